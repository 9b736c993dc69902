"""Install tfdisgan: GANs for disaster imagery on Keras 3 / TensorFlow."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "tfdisgan" / "version.py").read_text()
).group(1)

setup(
    name="tfdisgan",
    version=VERSION,
    description=(
        "DCGAN and StyleGAN2 with DiffAugment for small disaster-imagery datasets "
        "(Keras 3 / TensorFlow)"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tfdisgan", "tfdisgan.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<4",
        "numpy>=1.26,<3",
        "Pillow>=10.0,<14",
        "absl-py>=2.1,<3",
        "tensorboard>=2.20,<3",
    ],
    extras_require={
        # matplotlib: scripts/plot_run.py; the tests draw a plot too.
        # pytest-xdist: the suite runs on every core (-n auto); its run-level tests are
        # bound by single-threaded graph tracing, so two cores nearly halve the time.
        "test": ["pytest>=8,<10", "pytest-xdist>=3.5,<4", "matplotlib>=3.7,<4"],
        "lint": ["ruff>=0.5"],
        "plot": ["matplotlib>=3.7,<4"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
