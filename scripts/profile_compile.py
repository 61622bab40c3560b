"""Where a cold first call's compile time goes: numba functions, and LLVM's phases and passes per compiled library.

Run: python scripts/profile_compile.py [--variant C] [--after C] [--top 12]

The variant's first training call (``fastgd.benchmarking.COMPILE_VARIANTS``,
as in ``scripts/time_compile.py``) runs in a fresh process with an empty
``NUMBA_CACHE_DIR`` and ``NUMBA_LLVM_PASS_TIMINGS=1``; with ``--after OTHER``
the cache first holds ``OTHER``'s first call (made in another process), which
profiles what one more variant costs, the "more" of ``time_compile.py``. It prints

* each compiled function's exclusive time between numba's ``numba:compile``
  events (typing, lowering and LLVM, less what nested compilations took);
* for each library numba built, the seconds of LLVM's four phases: function
  passes, the cheap and the full module passes (run after numba links the
  code of every callee into the library), and code generation ("object");
* the LLVM passes that took longest, summed over libraries.

A diagnostic: it reads numba's per-library timings through
``CPUCodeLibrary`` (numba internals, numba 0.68), and the timings themselves
slow compilation by about a tenth.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from fastgd.benchmarking import COMPILE_VARIANTS, first_call_code

_PROFILER = """
import collections, re, time
import numba.core.codegen as codegen
from numba.core import event

libraries = []
_init = codegen.CPUCodeLibrary.__init__
def _recording_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    libraries.append(self)
codegen.CPUCodeLibrary.__init__ = _recording_init

marks = []
class _Listener(event.Listener):
    def on_start(self, details):
        dispatcher = details.data.get("dispatcher")
        marks.append(("start", time.perf_counter(), dispatcher.py_func.__qualname__ if dispatcher else "?"))
    def on_end(self, details):
        marks.append(("end", time.perf_counter(), None))
event.register("numba:compile", _Listener())

{setup}
start = time.perf_counter()
{statement}
total = time.perf_counter() - start

exclusive = collections.Counter()
stack = []
for kind, when, name in marks:
    if stack:
        exclusive[stack[-1][0]] += when - stack[-1][1]
    if kind == "start":
        stack.append([name, when])
    else:
        stack.pop()
        if stack:
            stack[-1][1] = when
print(f"first call {{total:.2f}} s; {{len(exclusive)}} functions compiled, {{sum(exclusive.values()):.2f}} s between compile events")
print("\\nexclusive seconds per compiled function")
for name, seconds in exclusive.most_common({top}):
    print(f"  {{seconds:6.2f}}  {{name}}")

def phase(label):
    if label.startswith("Function passes"):
        return "function"
    if "cheap" in label:
        return "cheap module"
    return "full module" if "full" in label else "object"

passes = collections.Counter()
rows = []
for library in libraries:
    phases = collections.Counter()
    for label, info in getattr(library, "_recorded_timings", None) or []:
        summary = info.summary()
        found = re.search(r"Total ([\\d.]+)s", summary)
        phases[phase(label)] += float(found.group(1)) if found else 0.0
        seen = set()
        for line in re.finditer(r"([\\d.]+)s \\(\\s*[\\d.]+%\\) (.+)", summary):
            if line.group(2) not in seen:  # each pass is listed twice
                seen.add(line.group(2))
                passes[(phase(label), re.sub(r" #\\d+$", "", line.group(2)))] += float(line.group(1))
    rows.append((sum(phases.values()), library.name, phases))
print("\\nLLVM seconds per library (function, cheap module, full module, object)")
for seconds, name, phases in sorted(rows, reverse=True)[:{top}]:
    parts = ", ".join(f"{{phases[key]:.2f}}" for key in ("function", "cheap module", "full module", "object"))
    print(f"  {{seconds:6.2f}}  {{name[:60]}}  ({{parts}})")
print(f"  {{sum(row[0] for row in rows):6.2f}}  all {{len(rows)}} libraries")
print("\\nslowest LLVM passes, summed over libraries (the five slowest of each phase of each library)")
for (where, name), seconds in passes.most_common({top}):
    print(f"  {{seconds:6.2f}}  {{name}} ({{where}})")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="C", help=f"one of: {', '.join(COMPILE_VARIANTS)}")
    parser.add_argument("--after", help="a variant whose first call fills the cache first (profiles one more variant)")
    parser.add_argument("--top", type=int, default=12, help="rows per table")
    args = parser.parse_args()
    for variant in (args.variant, args.after):
        if variant is not None and variant not in COMPILE_VARIANTS:
            parser.error(f"unknown variant {variant!r}; known: {', '.join(COMPILE_VARIANTS)}")
    setup, statement = first_call_code(args.variant)
    program = _PROFILER.format(setup=setup, statement=statement, top=args.top)
    with tempfile.TemporaryDirectory(prefix="fastgd-compile-") as cache_dir:
        environment = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
        if args.after is not None:
            subprocess.run([sys.executable, "-c", "\n".join(first_call_code(args.after))], env=environment, check=True)
        environment["NUMBA_LLVM_PASS_TIMINGS"] = "1"
        subprocess.run([sys.executable, "-c", program], env=environment, check=True)


if __name__ == "__main__":
    main()
