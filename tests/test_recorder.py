"""The shape of the recording calls: :class:`~trader_telemetry.recording.Recorder` builds what
its calls read (no mixin reading attributes another class sets), and works on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import trader_telemetry as tt
from trader_telemetry.recording import Recorder

RECORDING = Path(tt.__file__).resolve().parent / "recording.py"


def _self_attributes(node: ast.AST, *, stored: bool) -> set[str]:
    """``self.x`` names the methods under ``node`` store (``stored``) or read."""
    wanted = ast.Store if stored else ast.Load
    return {
        sub.attr
        for sub in ast.walk(node)
        if isinstance(sub, ast.Attribute)
        and isinstance(sub.value, ast.Name)
        and sub.value.id == "self"
        and isinstance(sub.ctx, wanted)
    }


def test_the_recorder_sets_every_attribute_its_calls_read() -> None:
    tree = ast.parse(RECORDING.read_text(encoding="utf-8"))
    recorder = next(
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Recorder"
    )
    methods = {node.name for node in recorder.body if isinstance(node, ast.FunctionDef)}
    init = next(
        (
            node
            for node in recorder.body
            if isinstance(node, ast.FunctionDef) and node.name == "__init__"
        ),
        None,
    )
    assert init is not None, "Recorder builds nothing: its state is set by another class"
    read = _self_attributes(recorder, stored=False) - methods
    assert read, "the scan found the calls"
    assert read <= _self_attributes(init, stored=True), sorted(
        read - _self_attributes(init, stored=True)
    )
    # Nothing is declared at class level for another class to fill in.
    assert not [node for node in recorder.body if isinstance(node, ast.AnnAssign)]


def test_a_recorder_records_without_a_telemetry() -> None:
    recorder = Recorder(tt.TelemetryConfig(serve=False))
    recorder.record_mark("BTC-PERP", 97_000.5)
    recorder.record_account(equity=10_000.0, realized_pnl=5.0)
    recorder.record_order_latency(0.2)  # no pipeline yet: recorded nowhere, never raises
    recorder.record_order("BTC-PERP", "buy")
    assert recorder._state.mark_prices == {"BTC-PERP": 97_000.5}
    assert recorder._state.account.equity == 10_000.0
    assert recorder._state.orders == {("BTC-PERP", "buy"): 1}


def test_telemetry_is_a_recorder() -> None:
    with tt.Telemetry(serve=False) as telemetry:
        assert isinstance(telemetry, Recorder)
        telemetry.record_mark("ETH-PERP", 3_400.0)
        assert sorted(telemetry.snapshot()["positions"]) == ["ETH-PERP"]
