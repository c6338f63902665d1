"""benchmarks/bench_predict.py passes each bundled model's descriptor to
``olcaoml bispectrum`` as options: they must rebuild the same descriptor
(it failed with a KeyError for every neighbour-mean model, stops 26-30)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from conftest import load_benchmark

from pyolcaoml.cli.descriptor_options import add_descriptor_arguments, build_descriptor
from pyolcaoml.model.saved import load_model


@pytest.mark.parametrize("name", ["default", "asi", "sic", "sic_base"])
def test_descriptor_options_rebuild_the_models_descriptor(name: str) -> None:
    if name == "sic_base":
        name = str(Path(__file__).resolve().parents[1] / "data" / "sic_base_model")
    d = load_model(name, networks=False).descriptor
    argv = load_benchmark("bench_predict").descriptor_args(d)
    parser = argparse.ArgumentParser()
    add_descriptor_arguments(parser)
    rebuilt = build_descriptor(parser.parse_args(argv)).to_dict()
    assert rebuilt == d
