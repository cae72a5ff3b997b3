"""A profiler with PyTorch's interface (torch.profiler): per-op forward and
backward times and call counts, user ranges, a key_averages table and a
Chrome trace.

What it sees: every op of the table's and the compiled core's, recording or
not (under no_grad, on tensors that do not require grad), each backward
record, the ops a create_graph backward runs inside it, and record_function
ranges.  A forward op is timed at its end, where it records its node or
returns (nothing runs at an op's start, so that the profiler costs nothing
when off): its time runs from the end of the previous event on its thread (an
op, a backward record's start or end, a range's start or end, the profile's
start) to that point, so Python code run between two ops counts to the second.
A backward record's time is exact: the sweep runs a record at a time while
profiling."""
import functools
import json
import os
import threading
from enum import Enum
from time import perf_counter_ns

from fastad import _tensor

__all__ = ["profile", "record_function", "ProfilerActivity"]


class ProfilerActivity(Enum):
    CPU = 0
    CUDA = 1


class FunctionEvent:
    """One timed interval: name, start and end (ns, perf_counter_ns), thread;
    cpu_parent and cpu_children are its enclosing event and the events
    directly inside it.  Times are read in µs, as PyTorch's."""
    __slots__ = ("name", "start_ns", "end_ns", "thread", "category", "cpu_parent", "cpu_children")

    def __init__(self, name, start_ns, end_ns, thread, category):
        self.name, self.thread, self.category = name, thread, category
        self.start_ns, self.end_ns = start_ns, end_ns
        self.cpu_parent = None
        self.cpu_children = []

    key = property(lambda self: self.name)
    cpu_time_total = property(lambda self: (self.end_ns - self.start_ns) / 1000)

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    def __repr__(self):
        return (f"<FunctionEvent name={self.name} cpu_time_total={self.cpu_time_total:.3f}us "
                f"thread={self.thread}>")


class FunctionEventAvg:
    """The events of one name added up (PyTorch's FunctionEventAvg)."""

    def __init__(self, key):
        self.key = key
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0

    def add(self, event):
        self.count += 1
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={_time(self.self_cpu_time_total)} "
                f"cpu_time={_time(self.cpu_time)} count={self.count}>")


def _time(us):
    """PyTorch's format of a time in µs."""
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


class EventList(list):
    """A list of events or averages that prints as PyTorch's table."""

    def table(self, sort_by=None, row_limit=100, max_name_column_width=55, header=None,
              top_level_events_only=False):
        rows = list(self)
        if top_level_events_only:
            rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
        if sort_by is not None:
            rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
        if row_limit is not None and row_limit > 0:
            rows = rows[:row_limit]
        # the percentages are of all the events' self time, listed or not
        total = sum(e.self_cpu_time_total for e in self)
        width = min(max([len(e.key) for e in rows] + [4]) + 4, max_name_column_width)
        heads = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                 "# of Calls"]
        line = "-" * width + "  " + "  ".join(["-" * 12] * len(heads)) + "  "
        out = [line]
        if header is not None:
            out = [line.replace("-", "="), header, line.replace("-", "=")] + out
        out.append("Name".rjust(width) + "  " + "  ".join(h.rjust(12) for h in heads) + "  ")
        out.append(line)
        for e in rows:
            name = e.key if len(e.key) <= width else e.key[:width - 3] + "..."
            pct = (lambda t: f"{100.0 * t / total:.2f}%") if total > 0 else (lambda t: "0.00%")
            count = getattr(e, "count", 1)
            cells = [pct(e.self_cpu_time_total), _time(e.self_cpu_time_total),
                     pct(e.cpu_time_total), _time(e.cpu_time_total),
                     _time(e.cpu_time_total / count if count else 0.0), str(count)]
            out.append(name.rjust(width) + "  " + "  ".join(c.rjust(12) for c in cells) + "  ")
        out.append(line)
        out.append(f"Self CPU time total: {_time(total)}")
        return "\n".join(out) + "\n"

    def __str__(self):
        return self.table()


class profile:
    """Context manager that records the ops run inside it (see the module's
    docstring for what is timed and how).  Also fastad.autograd.profiler.profile.

    activities: [ProfilerActivity.CPU] (the default); fastad has no other.
    record_shapes, profile_memory, with_stack, with_flops, with_modules are
    accepted for PyTorch's programs and record nothing more."""

    def __init__(self, enabled=True, *, activities=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 use_cuda=False, use_cpu=True):
        if use_cuda or any(a is not ProfilerActivity.CPU for a in (activities or ())):
            raise ValueError("fastad: the profiler measures CPU activity only "
                             "(activities=[ProfilerActivity.CPU])")
        self.enabled = enabled
        self._raw = []          # (name, start ns, end ns, thread id, category)
        self._marks = {}        # thread id -> end of its last event (ns)
        self._prev = None
        self._events = None
        self._lock = threading.Lock()

    def __enter__(self):
        if self.enabled:
            self.start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.stop()
        return False

    def start(self):
        from fastad.optim import optimizer   # (which imports this module)
        optimizer._hook_every_step()         # for the "Optimizer.step#SGD.step" ranges
        self._marks[threading.get_ident()] = perf_counter_ns()
        self._prev = _tensor._set_profiler(self)

    def stop(self):
        _tensor._set_profiler(self._prev)
        self._prev = None
        self._events = None

    # the reports of ops, backward records and ranges
    def _add(self, name, start, end, category):
        tid = threading.get_ident()
        with self._lock:
            self._raw.append((name, start, end, tid, category))
            self._marks[tid] = end

    def _forward(self, name):
        end = perf_counter_ns()
        self._add(name, self._marks.get(threading.get_ident(), end), end, "cpu_op")

    def _backward(self, name, start):
        self._add(name, start, perf_counter_ns(), "cpu_op")

    def _mark(self, now=None):
        """The thread's next op starts now (ns, perf_counter_ns; default: the clock)."""
        self._marks[threading.get_ident()] = perf_counter_ns() if now is None else now

    def events(self):
        """The recorded events in order of start, each linked to its parent
        (the innermost event enclosing it on its thread) and children."""
        if self._events is None:
            events = [FunctionEvent(*r) for r in self._raw]
            events.sort(key=lambda e: (e.thread, e.start_ns, -e.end_ns))
            open_ = []
            for e in events:
                while open_ and (open_[-1].thread != e.thread or open_[-1].end_ns < e.end_ns):
                    open_.pop()
                if open_:
                    e.cpu_parent = open_[-1]
                    open_[-1].cpu_children.append(e)
                open_.append(e)
            events.sort(key=lambda e: e.start_ns)
            self._events = EventList(events)
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        """The events added up by name, in order of first appearance."""
        avgs = {}
        for e in self.events():
            avgs.setdefault(e.key, FunctionEventAvg(e.key)).add(e)
        return EventList(avgs.values())

    def table(self, sort_by=None, row_limit=100, **kwargs):
        return self.key_averages().table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def export_chrome_trace(self, path):
        """Writes the events in the Chrome trace format (JSON; chrome://tracing
        and Perfetto open it): complete events, ph "X", ts and dur in µs."""
        pid = os.getpid()
        trace = {"traceEvents": [
            {"ph": "X", "cat": e.category, "name": e.name, "pid": pid, "tid": e.thread,
             "ts": e.start_ns / 1000, "dur": e.cpu_time_total, "args": {}} for e in self.events()],
            "displayTimeUnit": "ms"}
        with open(path, "w") as f:
            json.dump(trace, f)


class record_function:
    """Context manager and decorator: the code inside is one event named name
    (a "user_annotation", as PyTorch calls them) of the profile recording, if any."""

    def __init__(self, name, args=None):
        self.name = name
        self._prof = None
        self._start = 0

    def __enter__(self):
        self._prof = _tensor._current_profiler()
        if self._prof is not None:
            self._start = perf_counter_ns()
            self._prof._mark()
        return self

    def __exit__(self, *exc):
        if self._prof is not None:
            self._prof._add(self.name, self._start, perf_counter_ns(), "user_annotation")
            self._prof = None
        return False

    def __call__(self, fn):
        name = self.name

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(name):
                return fn(*args, **kwargs)
        return wrapper
