"""python -m fastad check: op globs, the JSON and JUnit XML reports, the
progress bar on a terminal, and a planted wrong gradient reported as a failure."""
import io
import json
import xml.etree.ElementTree as ET

import pytest

from fastad import __main__ as cli
from fastad import ops
from fastad.autograd import Function


class WrongSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 3 * x * g          # planted: the gradient is 2 x g


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def registry(monkeypatch):
    real = {op.name: op for op in ops.OPS}
    planted = ops.OpInfo("planted_square", lambda lib, a: WrongSquare.apply(a),
                         (ops.case((3,)), ops.case((2, 2))))
    absent = ops.OpInfo("F.not_there", ops._F("not_there"), (ops.case((3,)),),
                        api=("F.not_there",))
    monkeypatch.setattr(ops, "OPS", [real["exp"], real["nn.Linear"], planted, absent])


def test_json_and_junit_reports_name_the_planted_gradient(registry, tmp_path):
    out = io.StringIO()
    code = cli.check(["--json", str(tmp_path / "r.json"), "--junit-xml", str(tmp_path / "r.xml")],
                     out=out)
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["passed"], report["failed"], report["missing"]) == (6, 2, 1)
    assert report["cases_checked"] == 9 and report["ops_checked"] == 4
    by_op = {}
    for case in report["cases"]:
        by_op.setdefault(case["op"], []).append(case)
    assert [c["status"] for c in by_op["planted_square"]] == ["fail", "fail"]
    # the analytical gradient is 1.5x the numerical one: relative error 0.5
    for c in by_op["planted_square"]:
        assert c["max_rel_error"] == pytest.approx(0.5, rel=1e-4)
        assert "GradcheckError" in c["message"]
    assert all(c["status"] == "pass" and c["max_rel_error"] < 1e-6 for c in by_op["exp"])
    assert by_op["F.not_there"][0]["status"] == "missing"
    assert by_op["F.not_there"][0]["max_rel_error"] is None
    worst = {o["op"]: o for o in report["ops"]}
    assert worst["planted_square"]["status"] == "fail"
    assert worst["exp"]["worst_rel_error"] == max(c["max_rel_error"] for c in by_op["exp"])

    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("9", "3")
    failed = {(c.get("classname"), c.get("name")): c.find("failure")
              for c in suite.iter("testcase") if c.find("failure") is not None}
    assert set(failed) == {("fastad.check.planted_square", "3"),
                           ("fastad.check.planted_square", "2x2"),
                           ("fastad.check.F.not_there", "-")}
    assert failed[("fastad.check.planted_square", "3")].get("type") == "fail"
    assert failed[("fastad.check.F.not_there", "-")].get("type") == "missing"

    text = out.getvalue()
    assert "\r" not in text                      # not a terminal: plain lines
    summary = text[text.index("worst relative error per op"):].splitlines()
    assert summary[1].split()[0] in ("planted_square", "F.not_there")
    assert text.strip().splitlines()[-1].startswith("6 passed, 2 failed, 1 missing")


def test_op_globs_select_and_unknown_globs_fail(registry, tmp_path):
    out = io.StringIO()
    assert cli.check(["--op", "e*", "--op", "nn.Lin*", "--json", str(tmp_path / "r.json")],
                     out=out) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert {c["op"] for c in report["cases"]} == {"exp", "nn.Linear"}
    assert cli.check(["--op", "exp", "--op", "nothing*"], out=out) == 2


def test_progress_bar_on_a_terminal(registry):
    term = Terminal()
    cli.check(["--op", "exp", "--op", "planted*"], out=term)
    text = term.getvalue()
    assert "\r\033[K[" in text
    assert "6/6 cases, 2 failed" in text
    assert text.count("PASS") == 4
