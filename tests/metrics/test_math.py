"""Tests of the NumPy metric maths: Fréchet distance, KID, precision/recall, SWD, MS-SSIM."""

import numpy as np
import tensorflow as tf

from tfdisgan.metrics import frechet, kid, msssim, precision_recall, swd


def _random_rotation(dim, seed):
    q, r = np.linalg.qr(np.random.RandomState(seed).randn(dim, dim))
    return q * np.sign(np.diag(r))


class FrechetTest(tf.test.TestCase):
    def test_closed_form_for_known_gaussians(self):
        dim = 6
        eig = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 9.0])
        q = _random_rotation(dim, 0)
        sigma2 = q @ np.diag(eig) @ q.T  # not diagonal, not commuting with a general C1
        mu1, mu2 = np.zeros(dim), np.arange(dim) * 0.5
        # With C1 = I: Tr(sqrt(C1 C2)) = sum sqrt(eig(C2)).
        expected = np.sum(mu2 ** 2) + dim + eig.sum() - 2 * np.sum(np.sqrt(eig))
        self.assertAllClose(frechet.frechet_distance(mu1, np.eye(dim), mu2, sigma2), expected,
                            rtol=1e-10)
        # Commuting diagonal covariances: sum (sqrt(a) - sqrt(b))^2.
        a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
        self.assertAllClose(frechet.frechet_distance(np.zeros(3), np.diag(a), np.ones(3),
                                                     np.diag(b)),
                            3 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2), rtol=1e-10)
        # Symmetric in its two arguments and zero for one Gaussian.
        self.assertAllClose(frechet.frechet_distance(mu2, sigma2, mu1, np.eye(dim)), expected,
                            rtol=1e-10)
        self.assertAllClose(frechet.frechet_distance(mu2, sigma2, mu2, sigma2), 0.0, atol=1e-9)

    def test_samples_converge_to_closed_form(self):
        rng = np.random.RandomState(1)
        dim, n = 4, 200000
        cov = np.array([[2.0, 0.5, 0, 0], [0.5, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 3.0]])
        x = rng.randn(n, dim)
        y = rng.randn(n, dim) @ np.linalg.cholesky(cov).T + 1.0
        mu, sigma = frechet.feature_statistics(y)
        self.assertAllClose(mu, np.ones(dim), atol=0.02)
        self.assertAllClose(sigma, cov, atol=0.03)
        eig = np.linalg.eigvalsh(cov)
        expected = dim + dim + eig.sum() - 2 * np.sum(np.sqrt(eig))
        self.assertAllClose(frechet.frechet_distance_from_features(x, y), expected, atol=0.1)

    def test_sample_space_path_equals_covariance_path(self):
        rng = np.random.RandomState(4)
        for n1, n2, dim in ((10, 12, 32), (40, 7, 64), (50, 60, 16)):
            with self.subTest(n1=n1, n2=n2, dim=dim):
                x, y = rng.randn(n1, dim) * 2, rng.randn(n2, dim) + 0.3
                expected = frechet.frechet_distance(*frechet.feature_statistics(x),
                                                    *frechet.feature_statistics(y))
                # (The covariance path loses ~1e-8 relative to sqrt of rounding-level
                # eigenvalues of the rank-deficient product.)
                self.assertAllClose(frechet.frechet_distance_from_features(x, y), expected,
                                    rtol=1e-7)

    def test_singular_covariances_and_errors(self):
        # Fewer samples than dimensions (small data): rank-deficient, still finite and >= 0.
        rng = np.random.RandomState(2)
        value = frechet.frechet_distance_from_features(rng.randn(10, 32), rng.randn(12, 32))
        self.assertTrue(np.isfinite(value) and value > 0)
        with self.assertRaisesRegex(ValueError, "method must be one of"):
            frechet.frechet_distance([0], [[1]], [0], [[1]], method="svd")
        with self.assertRaisesRegex(ValueError, "sigma1 and sigma2 must have shape"):
            frechet.frechet_distance([0, 0], np.eye(3), [0, 0], np.eye(2))
        with self.assertRaisesRegex(ValueError, "N >= 2"):
            frechet.feature_statistics(np.zeros((1, 4)))


class KIDTest(tf.test.TestCase):
    def test_unbiased_near_zero_for_one_distribution(self):
        rng = np.random.RandomState(0)
        # The very same features in both sets: the cross term keeps the self-pairs that the
        # within-set terms drop, so the estimate is slightly negative, of order 1/m.
        x = rng.randn(400, 16)
        same_set = kid.kernel_inception_distance(x, x.copy(), num_subsets=3)
        self.assertLess(same_set, 0.0)
        self.assertGreater(same_set, -0.1)
        # Independent samples of one distribution: the unbiased estimate averages to ~0
        # (the biased one would be clearly positive), and a shifted one is far above it.
        same = [kid.kernel_inception_distance(rng.randn(200, 16), rng.randn(200, 16),
                                              num_subsets=5, seed=s) for s in range(10)]
        shifted = kid.kernel_inception_distance(rng.randn(200, 16), rng.randn(200, 16) + 0.5,
                                                num_subsets=5)
        self.assertLess(abs(np.mean(same)), 3 * np.std(same) / np.sqrt(len(same)) + 1e-3)
        self.assertGreater(shifted, 10 * abs(np.mean(same)))
        self.assertTrue(any(v < 0 for v in same))  # unbiased: negative values happen

    def test_matches_direct_formula_with_one_subset(self):
        rng = np.random.RandomState(3)
        x, y = rng.randn(30, 5), rng.randn(30, 5) + 0.3
        k = lambda a, b: (a @ b.T / 5 + 1) ** 3  # noqa: E731
        m = 30
        kxx, kyy, kxy = k(y, y), k(x, x), k(y, x)
        expected = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                    + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
        # One subset of all rows is the whole set (a permutation does not change MMD^2).
        self.assertAllClose(kid.kernel_inception_distance(x, y, num_subsets=1), expected,
                            rtol=1e-10)
        with self.assertRaisesRegex(ValueError, "num_subsets must be >= 1"):
            kid.kernel_inception_distance(x, y, num_subsets=0)


class PrecisionRecallTest(tf.test.TestCase):
    def test_constructed_clusters(self):
        rng = np.random.RandomState(0)
        cluster_a = rng.randn(200, 8) * 0.1
        cluster_b = rng.randn(200, 8) * 0.1 + 10.0
        reals = np.concatenate([cluster_a, cluster_b])
        # Mode dropping: fakes cover only cluster A -> precision 1, recall ~0.5.
        # (In 8-d, k=3 balls miss some fresh samples of the same cluster: p ~0.85, not 1.)
        p, r = precision_recall.precision_recall(reals, rng.randn(400, 8) * 0.1)
        self.assertGreater(p, 0.75)
        self.assertTrue(0.4 < r <= 0.5, r)
        # Half of the fakes far from any real -> precision ~0.5, recall of A and B.
        far = rng.randn(200, 8) * 0.1 - 10.0
        p, r = precision_recall.precision_recall(reals, np.concatenate([cluster_a * 1.01, far]))
        self.assertAllClose(p, 0.5, atol=0.05)
        self.assertAllClose(r, 0.5, atol=0.05)
        self.assertEqual(precision_recall.precision_recall(reals, reals), (1.0, 1.0))
        # Blocks do not change the result.
        self.assertEqual(precision_recall.precision_recall(reals, far, block=7),
                         precision_recall.precision_recall(reals, far))
        with self.assertRaisesRegex(ValueError, "needs > 3 features"):
            precision_recall.precision_recall(reals[:3], reals)


class SWDTest(tf.test.TestCase):
    def _images(self, n=24, size=32, seed=0):
        from tfdisgan.data import procedural

        return procedural.generate(n, size, seed=seed)[0]

    def test_zero_for_identical_sets_and_grows_with_a_shift(self):
        images = self._images()
        same = swd.sliced_wasserstein_distance(images, images.copy())
        self.assertEqual(sorted(same), ["swd", "swd_16", "swd_32"])
        self.assertAllClose(list(same.values()), [0.0, 0.0, 0.0], atol=1e-9)
        rng = np.random.RandomState(1)
        values = []
        for sigma in (2.0, 12.0, 40.0):
            noisy = np.clip(images + rng.randn(*images.shape) * sigma, 0, 255).astype(np.uint8)
            values.append(swd.sliced_wasserstein_distance(images, noisy)["swd"])
        self.assertGreater(values[0], 0.0)
        self.assertTrue(values[0] < values[1] < values[2], values)
        # Another sample of the same scenes is closer than a heavily corrupted copy.
        other = swd.sliced_wasserstein_distance(images, self._images(seed=7))["swd"]
        self.assertLess(other, values[2])

    def test_pyramid_matches_reference_and_reconstructs(self):
        rng = np.random.RandomState(0)
        x = rng.rand(2, 16, 16, 3).astype(np.float32) * 255
        # Direct 2-D convolution with cv2's 5x5 kernel and mirror padding (scipy 'mirror').
        kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
        padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
        direct = sum(kernel[i, j] * padded[:, i:i + 16, j:j + 16] for i in range(5)
                     for j in range(5))
        self.assertAllClose(swd.pyr_down(x), direct[:, ::2, ::2], atol=1e-3)
        levels = swd.laplacian_pyramid(x, 3)
        self.assertEqual([lvl.shape[1] for lvl in levels], [16, 8, 4])
        rebuilt = levels[-1]
        for level in levels[-2::-1]:
            rebuilt = swd.pyr_up(rebuilt) + level
        self.assertAllClose(rebuilt, x, atol=1e-3)
        self.assertEqual(swd.pyramid_resolutions(64), [64, 32, 16])
        with self.assertRaisesRegex(ValueError, "at least 16 px"):
            swd.pyramid_resolutions(8)

    def test_descriptor_counts(self):
        collector = swd.DescriptorCollector(32)
        collector.feed(self._images(n=3))
        collector.feed(self._images(n=2))
        descriptors = collector.finalize()
        self.assertEqual([d.shape for d in descriptors], [(5 * 128, 147)] * 2)
        self.assertAllClose(descriptors[0].reshape(-1, 7, 7, 3).std(axis=(0, 1, 2)),
                            np.ones(3), atol=1e-4)


class MSSSIMTest(tf.test.TestCase):
    def test_identical_vs_random(self):
        from tfdisgan.data import procedural

        for size in (16, 32, 64):
            with self.subTest(size=size):
                scenes = procedural.generate(16, size, seed=0)[0]
                noise = np.random.RandomState(size).randint(0, 256, scenes.shape)
                self.assertAllClose(msssim.msssim_diversity(np.repeat(scenes[:1], 8, 0)), 1.0,
                                    atol=1e-5)
                value_scenes = msssim.msssim_diversity(scenes)
                value_noise = msssim.msssim_diversity(noise.astype(np.uint8))
                self.assertLess(value_noise, 0.1)
                self.assertLess(value_noise, value_scenes)
                self.assertLess(value_scenes, 0.9)

    def test_settings(self):
        self.assertEqual(msssim.msssim_settings(256)["power_factors"], msssim.POWER_FACTORS)
        self.assertEqual(msssim.msssim_settings(256)["filter_size"], 11)
        small = msssim.msssim_settings(64)
        self.assertLen(small["power_factors"], 4)  # 64, 32, 16, 8 px
        self.assertAllClose(sum(small["power_factors"]), 1.0)
        self.assertLen(msssim.msssim_settings(32)["power_factors"], 3)
        with self.assertRaisesRegex(ValueError, "num_pairs must be in"):
            msssim.msssim_diversity(np.zeros((4, 16, 16, 3), np.uint8), num_pairs=3)
