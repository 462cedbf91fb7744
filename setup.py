"""Packaging for the Neural Input Search (NIS) TFX component suite.

Installs four packages: ``trainer_module`` (the NIS math and TFX entry points),
``components`` (custom TFX components and artifact types), ``pipelines``
(pipeline wiring and runners) and ``system`` (the KFP v2 ``system.HTML`` /
``system.Markdown`` visualization artifact types). Pinned versions live in
``requirements/constraints.txt``; install with::

    pip install -c requirements/constraints.txt -e .[dev]
"""
import setuptools

setuptools.setup(
    name="nis-tfx",
    version="0.1.0",
    description="Neural Input Search (multi-size embeddings) as TFX / Kubeflow components",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.9,<3.11",
    packages=setuptools.find_packages(include=["trainer_module*", "components*", "pipelines*", "system"]),
    package_data={"": ["*.pbtxt", "*.json"]},
    install_requires=[
        "tfx[kfp]==1.16.0",
        "apache-beam[gcp]==2.59.0",
        "tensorflow==2.16.2",
        "tf_keras==2.16.0",
        "tensorflow-transform==1.16.0",
        "matplotlib",  # RunReport's pictures
    ],
    extras_require={
        "dev": ["pytest", "hypothesis", "portpicker"],
        "bench": ["matplotlib", "portpicker"],
    },
    entry_points={"console_scripts": ["nis-pipeline=pipelines.runners.local:main"]},
)
