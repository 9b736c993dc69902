"""Bad networks and bad ``--psi``: one clear line, a non-zero exit, nothing lost.

What the scripts that load a trained network (generate, export, metrics, style_mix) and
``--transfer_from`` say when given (a) a truncated or damaged checkpoint (the message names
the bad file and the readable checkpoints beside it), (b) a ``psi`` outside ``[-1, 2]``,
(c) something that is not a network at all (a pickle, a text file, one file of a
checkpoint). One tiny trained DCGAN run (3 checkpoints) is shared by the whole file; the
scripts run as subprocesses, started together when the module is set up so that their
TensorFlow start-ups overlap with the in-process tests.
"""

import hashlib
import json
import os
import pickle
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tests.fixtures import run_script
from tests.test_generate_scripts import DCGAN_RUN
from tfdisgan import checkpoint_files, export, mixing, training, transfer
from tfdisgan._validate import check_psi
from tfdisgan.metrics import core

DATA = "ckpt-3.data-00000-of-00001"
_FIXTURE = {}


def _copy_run(src, dest, damage=None):
    """A copy of the run folder ``src`` at ``dest`` with ``damage(checkpoints_dir)`` done."""
    shutil.copytree(src, dest)
    if damage is not None:
        damage(os.path.join(dest, "checkpoints"))
    return dest


def _truncate_data(ckpt_dir):
    path = os.path.join(ckpt_dir, DATA)
    os.truncate(path, os.path.getsize(path) // 2)


def _garble(path, start=64, count=256):
    """Overwrites bytes in place: the size is unchanged, only the content is wrong."""
    with open(path, "r+b") as handle:
        handle.seek(start)
        handle.write(bytes((7 * i + 3) % 256 for i in range(count)))


def _garble_data(ckpt_dir):
    _garble(os.path.join(ckpt_dir, DATA))


def _garble_index(ckpt_dir):
    _garble(os.path.join(ckpt_dir, "ckpt-3.index"), start=8, count=48)


def _script(name, *args):
    """Starts ``scripts/NAME`` (stdout and stderr captured as text)."""
    return run_script(name, *args, background=True)


def _digest(folder):
    """``{relative path: sha1}`` of every file under ``folder`` (to show nothing changed)."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, folder)] = hashlib.sha1(handle.read()).hexdigest()
    return out


def setUpModule():
    root = tempfile.mkdtemp(prefix="tfdisgan-network-errors-")
    config = training.TrainConfig(outdir=os.path.join(root, "runs"),
                                  **{**DCGAN_RUN, "run_name": "err"}, steps=3, showcase=False)
    run_dir = training.run(config, verbose=False)
    bad = os.path.join(root, "bad")
    trunc = _copy_run(run_dir, os.path.join(bad, "trunc"), _truncate_data)
    index = _copy_run(run_dir, os.path.join(bad, "index"), _garble_index)
    pkl = os.path.join(root, "stylegan2-church-config-f.pkl")
    with open(pkl, "wb") as handle:
        pickle.dump({"G": np.zeros(3)}, handle, protocol=4)
    out = os.path.join(root, "out")
    digests = {path: _digest(path) for path in (trunc, index)}
    procs = {
        "generate_truncated_run": _script("generate.py", f"--network={trunc}", "--seeds=0",
                                          f"--outdir={os.path.join(out, 'gen')}"),
        "export_damaged_index": _script(
            "export.py", f"--network={os.path.join(index, 'checkpoints', 'ckpt-3')}",
            f"--out={os.path.join(out, 'exported', '1')}"),
        "style_mix_psi": _script("style_mix.py", f"--network={run_dir}", "--psi=2.5",
                                 f"--outdir={os.path.join(out, 'mix')}"),
        "metrics_pickle": _script("metrics.py", f"--network={pkl}", "--metrics=swd"),
    }
    _FIXTURE.update(root=root, run_dir=run_dir, trunc=trunc, index=index, pkl=pkl, out=out,
                    digests=digests, procs=procs, results={})
    # While the scripts start: the SavedModel of the same network (the export kind).
    model, _, _ = export.load_model(run_dir)
    _FIXTURE["saved"] = export.export_saved_model(model, os.path.join(root, "sm", "demo", "1"),
                                                  max_batch=4)


def tearDownModule():
    for proc in _FIXTURE.get("procs", {}).values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    shutil.rmtree(_FIXTURE.get("root", ""), ignore_errors=True)


class _ScriptCase(tf.test.TestCase):
    """Reads the module's script results; ``assertOneLineError`` checks one of them."""

    def script_result(self, key):
        results = _FIXTURE["results"]
        if key not in results:
            proc = _FIXTURE["procs"][key]
            stdout, stderr = proc.communicate(timeout=300)
            results[key] = (proc.returncode, stdout, stderr)
        return results[key]

    def assertOneLineError(self, key, prefix, *fragments):
        """Non-zero exit, no traceback, the last stderr line ``prefix...`` with
        ``fragments``; returns that line."""
        code, _, stderr = self.script_result(key)
        self.assertNotEqual(code, 0, stderr[-3000:])
        self.assertNotIn("Traceback", stderr)
        lines = [line for line in stderr.splitlines() if line.strip()]
        self.assertTrue(lines, "nothing on stderr")
        last = lines[-1]
        self.assertTrue(last.startswith(prefix), last)
        for fragment in fragments:
            self.assertIn(fragment, last)
        return last


class CheckpointErrorsTest(_ScriptCase):
    """(a) Truncated, damaged or missing checkpoint files."""

    def setUp(self):
        super().setUp()
        self.run_dir = _FIXTURE["run_dir"]
        self.tmp = self.get_temp_dir()

    def _damaged(self, name, damage):
        return _copy_run(self.run_dir, os.path.join(self.tmp, name), damage)

    def test_generate_names_the_truncated_file_and_older_checkpoints(self):
        trunc = _FIXTURE["trunc"]
        ckpts = os.path.join(trunc, "checkpoints")
        self.assertOneLineError(
            "generate_truncated_run", "generate: error: --network",
            f"{os.path.join(ckpts, DATA)} is unreadable (truncated?)",
            f"older readable checkpoints in {ckpts}: ckpt-2, ckpt-1",
            f"--network={os.path.join(ckpts, 'ckpt-2')}")
        # Nothing lost: the run folder is as it was, nothing was written.
        self.assertEqual(_digest(trunc), _FIXTURE["digests"][trunc])
        self.assertFalse(os.path.exists(os.path.join(_FIXTURE["out"], "gen")))

    def test_export_names_the_damaged_index(self):
        index = _FIXTURE["index"]
        ckpts = os.path.join(index, "checkpoints")
        self.assertOneLineError(
            "export_damaged_index", "export: error: --network",
            f"{os.path.join(ckpts, 'ckpt-3')}' cannot be restored",
            f"{os.path.join(ckpts, 'ckpt-3.index')} is unreadable",
            "older readable checkpoints", "ckpt-2, ckpt-1")
        self.assertEqual(_digest(index), _FIXTURE["digests"][index])
        self.assertFalse(os.path.exists(os.path.join(_FIXTURE["out"], "exported")))

    def test_same_size_garbage_is_found_by_reading(self):
        run = self._damaged("garbage", _garble_data)
        data = os.path.join(run, "checkpoints", DATA)
        self.assertEqual(os.path.getsize(data),
                         os.path.getsize(os.path.join(self.run_dir, "checkpoints", DATA)))
        self.assertIn("checksum", checkpoint_files.checkpoint_problem(
            data[: -len(".data-00000-of-00001")]))
        with self.assertRaises(export.NetworkError) as caught:
            export.load_network(run)
        message = str(caught.exception)
        self.assertIn(f"{data} is unreadable (damaged: checksum mismatch)", message)
        self.assertNotIn("\n", message)
        # The alternative it names loads, and gives the images of the original run's ckpt-2.
        older = os.path.join(run, "checkpoints", "ckpt-2")
        self.assertIn(f"--network={older}", message)
        original = os.path.join(self.run_dir, "checkpoints", "ckpt-2")
        self.assertAllEqual(export.load_network(older).images_from_seeds([0, 1], 0),
                            export.load_network(original).images_from_seeds([0, 1], 0))

    def test_missing_files_and_state(self):
        cases = {
            "no_data": (lambda d: os.remove(os.path.join(d, DATA)),
                        f"{DATA} is missing", "older readable checkpoints"),
            "no_index": (lambda d: os.remove(os.path.join(d, "ckpt-3.index")),
                         "checkpoints/checkpoint names no readable checkpoint",
                         "readable checkpoints in"),
            "no_state": (lambda d: os.remove(os.path.join(d, "checkpoint")),
                         "checkpoints/checkpoint names no readable checkpoint", "ckpt-3, ckpt-2"),
        }
        for name, (damage, *fragments) in cases.items():
            with self.subTest(name):
                run = self._damaged(name, damage)
                with self.assertRaises(export.NetworkError) as caught:
                    export.load_network(run)
                for fragment in fragments:
                    self.assertIn(fragment, str(caught.exception))
        prefix = os.path.join(self.tmp, "no_index", "checkpoints", "ckpt-3")
        with self.assertRaisesRegex(export.NetworkError, r"ckpt-3\.index is missing; older "):
            export.load_network(prefix)

    def test_no_readable_checkpoint_left(self):
        def damage_all(ckpt_dir):
            for n in (1, 2, 3):
                _garble(os.path.join(ckpt_dir, f"ckpt-{n}.data-00000-of-00001"))

        run = self._damaged("all_bad", damage_all)
        with self.assertRaisesRegex(export.NetworkError, "no other readable checkpoint in"):
            export.load_model(run)
        self.assertIsNone(checkpoint_files.checkpoint_problem(
            os.path.join(self.run_dir, "checkpoints", "ckpt-3")))

    def test_intact_checkpoint_of_another_model(self):
        run = self._damaged("other_model", None)
        config = os.path.join(run, "config.json")
        with open(config, encoding="utf-8") as handle:
            stored = json.load(handle)
        with open(config, "w", encoding="utf-8") as handle:
            json.dump({**stored, "z_dim": 32}, handle)
        with self.assertRaises(export.NetworkError) as caught:
            export.load_network(run)
        message = str(caught.exception)
        self.assertIn(f"does not match the model {os.path.abspath(config)} describes", message)
        self.assertNotIn("readable checkpoints", message)  # its files are fine

    def test_transfer_from_a_truncated_checkpoint(self):
        run = self._damaged("trunc", _truncate_data)
        with self.assertRaises(transfer.TransferError) as caught:
            transfer.load_source(run)
        message = str(caught.exception)
        self.assertTrue(message.startswith(f"--transfer_from {run!r}"), message)
        self.assertIn(f"{DATA} is unreadable (truncated?)", message)
        self.assertIn(f"--transfer_from={os.path.join(run, 'checkpoints', 'ckpt-2')}", message)
        self.assertNotIn("--network", message)
        # A truncated .npz of weights.
        model, _, _ = export.load_model(self.run_dir)
        npz = transfer.save_npz(model, os.path.join(self.tmp, "weights.npz"))
        os.truncate(npz, os.path.getsize(npz) // 2)
        with self.assertRaisesRegex(transfer.TransferError,
                                    r"weights\.npz': not a readable \.npz \(truncated"):
            transfer.load_source(npz)


class PsiErrorsTest(_ScriptCase):
    """(b) ``psi`` outside ``[-1, 2]``: the flag, and every generator view."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.views = {"checkpoint": export.load_network(_FIXTURE["run_dir"]),
                     "saved_model": export.load_network(_FIXTURE["saved"])}

    def test_style_mix_flag(self):
        self.assertOneLineError(
            "style_mix_psi", "style_mix: error: --psi",
            "--psi (truncation) must be a number in [-1, 2]. Received: --psi=2.5")
        self.assertFalse(os.path.exists(os.path.join(_FIXTURE["out"], "mix")))

    def test_views(self):
        for kind, view in self.views.items():
            with self.subTest(kind):
                self.assertEqual(view.images_from_seeds([0], 0, psi=2.0).shape, (1, 16, 16, 3))
                self.assertEqual(view.images_from_seeds([0], 0, psi=-1.0).shape,
                                 (1, 16, 16, 3))
                for psi, shown in ((3.0, "psi=3.0"), (-1.5, "psi=-1.5"),
                                   (float("nan"), "psi=nan"), ("0.7", "psi='0.7'")):
                    with self.assertRaisesRegex(ValueError, rf"`psi` \(truncation\) must be "
                                                rf"a number in \[-1, 2\]\. Received: {shown}"):
                        view.images_from_seeds([0], 0, psi=psi)
                z = view.z_from_seeds([0, 1])
                with self.assertRaisesRegex(ValueError, r"Received: psi=2\.5"):
                    view.images_from_z(z, 0, psi=[1.0, 2.5])  # one bad row

    def test_library_functions(self):
        view = self.views["checkpoint"]
        with self.assertRaisesRegex(ValueError, r"`psi`.*Received: psi=5\.0"):
            mixing.latent_walk(view, [0, 1], frames=2, psi=5.0, label=0)
        with self.assertRaisesRegex(ValueError, r"`psi`.*Received: psi=-3\.0"):
            core.calc_metrics(view, "procedural:64", ["swd"], num_gen=4, psi=-3.0)
        with self.assertRaisesRegex(ValueError, r"^--psi \(truncation\).*Received: --psi=9\.0$"):
            check_psi(9.0, "--psi")
        self.assertEqual(check_psi(0.7), 0.7)

    def test_model_generate(self):
        from tfdisgan.models import DCGAN, StyleGAN2

        for gan in (DCGAN(resolution=16, z_dim=8, base_channels=8, max_channels=16),
                    StyleGAN2(resolution=16, z_dim=8, w_dim=8, channel_base=64,
                              channel_max=8, mapping_layers=1)):
            with self.assertRaisesRegex(ValueError, r"`psi`.*Received: psi=3\.0"):
                gan.generate(seeds=[0], psi=3.0)
            self.assertEqual(gan.generate(seeds=[0], psi=2.0).shape, (1, 16, 16, 3))


class NotANetworkTest(_ScriptCase):
    """(c) A pickle, a text file, a weights file or one file of a checkpoint."""

    def setUp(self):
        super().setUp()
        self.tmp = self.get_temp_dir()

    def _write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def _error(self, path, flag="--network"):
        loader = transfer.load_source if flag == "--transfer_from" else export.load_network
        error = transfer.TransferError if flag == "--transfer_from" else export.NetworkError
        with self.assertRaises(error) as caught:
            loader(path)
        message = str(caught.exception)
        self.assertTrue(message.startswith(f"{flag} {path!r} is "), message)
        self.assertNotIn("\n", message)
        return message

    def test_metrics_pickle(self):
        pkl = _FIXTURE["pkl"]
        self.assertOneLineError(
            "metrics_pickle", f"metrics: error: --network {pkl!r} is a pickle",
            f"`python scripts/import_nvidia.py --source={pkl} --out=DIR` first",
            "(TF1 or stylegan2-ada-pytorch)")

    def test_pytorch_pickle(self):
        torch_pkl = self._write("network-snapshot-000200.pkl",
                                b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01G"
                                b"ctorch_utils.persistence\n_reconstruct_persistent_obj\n.")
        self.assertIn(f"is {checkpoint_files.PYTORCH_PICKLE}", self._error(torch_pkl))

    def test_text_files(self):
        run_dir = _FIXTURE["run_dir"]
        readme = self._write("README.md", "# 건물화재 demo\nSee runs/.\n".encode())
        message = self._error(readme)
        self.assertIn("is a text file, not a run folder, checkpoint or SavedModel; --network "
                      f"takes {checkpoint_files.NETWORK_FORMS}.", message)
        flags_txt = os.path.join(run_dir, "flags.txt")
        self.assertIn(f"It lies in the run folder {run_dir!r}: pass --network={run_dir}.",
                      self._error(flags_txt))
        for_transfer = self._error(readme, "--transfer_from")
        self.assertIn(f"--transfer_from takes {transfer.SOURCE_FORMS}", for_transfer)
        # --transfer_from refuses it before any run folder is made.
        config = training.TrainConfig(data="procedural:64", transfer_from=readme)
        with self.assertRaisesRegex(training.ConfigError, "README.md' is a text file"):
            transfer.check_config(config)

    def test_other_files(self):
        prefix = os.path.join(_FIXTURE["run_dir"], "checkpoints", "ckpt-2")
        self.assertIn(f"one file of the checkpoint {prefix!r}: pass the prefix, "
                      f"--network={prefix}", self._error(f"{prefix}.index"))
        saved = _FIXTURE["saved"]
        self.assertIn(f"pass its folder, --network={saved}",
                      self._error(os.path.join(saved, "saved_model.pb")))
        npz = self._write("weights.npz", b"PK\x03\x04rest")
        self.assertIn("only --transfer_from reads weights files", self._error(npz))
        self.assertIn("is an empty file", self._error(self._write("empty.bin", b"")))
        self.assertIn("a file of unknown format",
                      self._error(self._write("blob.bin", bytes(range(256)))))
        with self.assertRaisesRegex(transfer.TransferError, r"^--transfer_from '.*\.pkl' is "
                                    "a pickle: convert"):
            transfer.load_source(_FIXTURE["pkl"])


if __name__ == "__main__":
    tf.test.main()
