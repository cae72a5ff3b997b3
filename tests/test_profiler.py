"""The profiler: counts of forward ops and backward records, record_function
ranges, the key_averages table, the Chrome trace, and the switch back off."""
import json
import time

import pytest

import fastad
import fastad.nn.functional as F
from fastad import profiler


def _counts(prof):
    return {a.key: a.count for a in prof.key_averages()}


def test_forward_and_backward_counts_of_scalar_ops():
    x = fastad.tensor(2.0, requires_grad=True)
    with profiler.profile() as prof:
        y = x * x * x * x            # three muls
        y.backward()
    counts = _counts(prof)
    assert counts == {"mul": 3, "MulBackward0": 3}
    assert x.grad.item() == 32.0


def test_array_ops_and_their_names():
    x = fastad.randn(4, 3, requires_grad=True)
    w = fastad.randn(3, 2, requires_grad=True)
    with profiler.profile() as prof:
        loss = (x @ w).tanh().sum()
        loss.backward()
    counts = _counts(prof)
    for name in ("tanh", "sum", "TanhBackward0", "SumBackward0"):
        assert counts[name] == 1, counts
    assert counts[fastad.matmul(x, w).grad_fn.name()] == 1      # the matmul's backward
    assert w.grad is not None


def test_nothing_is_recorded_outside_the_profile():
    x = fastad.tensor(2.0, requires_grad=True)
    with profiler.profile() as prof:
        pass
    (x * x).backward()
    assert len(prof.events()) == 0
    assert fastad._tensor._current_profiler() is None


def _forward_program(x, w, t):
    h = F.relu(x @ w) * 2.0 + 1.0
    p = h.softmax(dim=1)
    s = (fastad.where(p > 0.2, p, p.clamp(min=0.1)).sum() + fastad.cat([p, h]).mean()
         + F.cross_entropy(h, t) + h.tanh().max() + fastad.stack([p, p]).sum(dim=0)[0, 1])
    return s * s                    # a 0-d op


FORWARD_COUNTS = {"mm": 1, "relu": 1, "mul": 2, "add": 5, "softmax": 1, "gt": 1, "clamp": 1,
                  "where": 1, "sum": 2, "cat": 1, "mean": 1, "nll_loss": 1, "tanh": 1,
                  "max": 1, "stack": 1, "select": 1}


@pytest.mark.parametrize("recording", ["requires_grad", "no_grad", "plain tensors"])
def test_ops_that_do_not_record_are_counted_too(recording):
    """A forward counts the same whether it records or not (under no_grad, or
    on tensors that do not require grad), as PyTorch's profiler."""
    x, w = fastad.randn(4, 3), fastad.randn(3, 5)
    t = fastad.tensor([0, 1, 4, 2])
    if recording != "plain tensors":
        x.requires_grad_()
    with profiler.profile() as prof:
        if recording == "no_grad":
            with fastad.no_grad():
                _forward_program(x, w, t)
        else:
            _forward_program(x, w, t)
    counts = _counts(prof)
    ours = {k: counts.get(k, 0) for k in FORWARD_COUNTS}
    assert ours == FORWARD_COUNTS, counts


def test_a_create_graph_backward_shows_its_records_and_their_ops():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    with profiler.profile() as prof:
        g, = fastad.autograd.grad((x * x).sum(), x, create_graph=True)
    counts = _counts(prof)
    assert counts["MulBackward0"] == 1 and counts["SumBackward0"] == 1, counts
    # MulBackward0's derivative: grad * other + grad * self, ops inside its record
    backward = next(e for e in prof.events() if e.name == "MulBackward0")
    assert sorted(c.name for c in backward.cpu_children) == ["add", "mul", "mul"]
    assert g.requires_grad and g.tolist() == [2.0, 4.0]


def test_an_optimizer_step_is_a_range_named_as_pytorchs():
    w = fastad.randn(3, requires_grad=True)
    opt = fastad.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    with profiler.profile() as prof:
        opt.step()
    assert _counts(prof)["Optimizer.step#Adam.step"] == 1
    before = w.detach().clone()
    opt.step()          # hooked since the profile, and out of it a plain step
    assert len(prof.events()) == sum(a.count for a in prof.key_averages())
    assert not fastad.equal(w.detach(), before)


def test_record_function_ranges_contain_their_ops():
    x = fastad.tensor(2.0, requires_grad=True)

    @profiler.record_function("decorated")
    def cube(t):
        return t * t * t

    with profiler.profile() as prof:
        with profiler.record_function("forward"):
            y = cube(x) + 1.0
        with profiler.record_function("backward"):
            y.backward()
    events = {e.name: e for e in prof.events() if e.category == "user_annotation"}
    assert set(events) == {"forward", "decorated", "backward"}
    inside = lambda name: sorted(c.name for c in events[name].cpu_children)  # noqa: E731
    assert inside("forward") == ["add", "decorated"]
    assert inside("decorated") == ["mul", "mul"]
    assert inside("backward") == ["AddBackward0", "MulBackward0", "MulBackward0"]
    for e in prof.events():
        assert e.self_cpu_time_total >= 0
        if e.cpu_parent is not None:
            p = e.cpu_parent
            assert p.start_ns <= e.start_ns and e.end_ns <= p.end_ns
    # outside a profile, record_function does nothing
    with profiler.record_function("idle"):
        assert cube(x).item() == 8.0


def test_times_add_up():
    x = fastad.tensor(2.0, requires_grad=True)
    with profiler.profile() as prof:
        with profiler.record_function("sleep"):
            time.sleep(0.01)
            y = x * 3.0
        y.backward()
    avgs = {a.key: a for a in prof.key_averages()}
    sleep = avgs["sleep"]
    assert sleep.cpu_time_total >= 10_000          # µs
    # the mul, recorded after the sleep inside the range, is charged the sleep:
    # its time runs from the range's start (see fastad.profiler's docstring)
    assert avgs["mul"].cpu_time_total >= 10_000
    assert sleep.self_cpu_time_total == pytest.approx(
        sleep.cpu_time_total - avgs["mul"].cpu_time_total)
    assert avgs["MulBackward0"].cpu_time_total < sleep.cpu_time_total


def test_key_averages_table_has_pytorchs_columns():
    x = fastad.randn(8, requires_grad=True)
    with fastad.autograd.profiler.profile() as prof:        # the alias
        for _ in range(3):
            (x.sigmoid() * 2).sum().backward()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
    lines = table.splitlines()
    header = lines[1].split()
    assert " ".join(header) == "Name Self CPU % Self CPU CPU total % CPU total CPU time avg # of Calls"
    assert lines[0].startswith("-") and lines[2].startswith("-")
    assert lines[-1].startswith("Self CPU time total: ")
    rows = {line.split()[0]: line.split() for line in lines[3:-2]}
    assert rows["sigmoid"][-1] == "3" and rows["SigmoidBackward0"][-1] == "3"
    selfs = [float(r[1].rstrip("%")) for r in rows.values()]
    assert selfs == sorted(selfs, reverse=True)
    assert len(prof.key_averages().table(row_limit=2).splitlines()) == 3 + 2 + 2


def test_chrome_trace_loads(tmp_path):
    x = fastad.tensor(1.5, requires_grad=True)
    with profiler.profile() as prof:
        with profiler.record_function("step"):
            (x.exp() * x).backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    with open(path) as f:
        trace = json.load(f)
    events = trace["traceEvents"]
    assert sorted(e["name"] for e in events) == sorted(
        ["step", "exp", "mul", "MulBackward0", "ExpBackward0"])
    for e in events:
        assert e["ph"] == "X" and e["dur"] >= 0 and isinstance(e["ts"], float)
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
    step = next(e for e in events if e["name"] == "step")
    for e in events:
        assert step["ts"] <= e["ts"] and e["ts"] + e["dur"] <= step["ts"] + step["dur"] + 1e-3


def test_anomaly_and_profiler_together():
    x = fastad.tensor(0.0, requires_grad=True)
    with profiler.profile() as prof, fastad.autograd.set_detect_anomaly(True):
        y = x.sqrt() * 0
        with pytest.warns(UserWarning, match="Error detected in SqrtBackward0"):
            with pytest.raises(RuntimeError, match="SqrtBackward0"):
                y.backward()
    assert _counts(prof)["sqrt"] == 1
    assert not fastad.is_anomaly_enabled()


def test_cuda_activity_is_refused():
    with pytest.raises(ValueError, match="CPU"):
        profiler.profile(activities=[profiler.ProfilerActivity.CUDA])
    with profiler.profile(activities=[profiler.ProfilerActivity.CPU], record_shapes=True):
        pass
