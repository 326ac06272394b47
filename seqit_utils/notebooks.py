"""Run a notebook with papermill under this environment's own kernel, writing nothing into $HOME.

papermill looks a kernel up by name; the `python3` kernelspec a user may have in ~/.local/share/jupyter, or the one
shipped by ipykernel (`"argv": ["python", ...]`, resolved through PATH), can point at another interpreter. So we
write a private kernelspec whose argv is *this* interpreter into a temporary folder, and point Jupyter's and
IPython's data, runtime and config folders there too.

Command line (what `dvc.yaml` calls):
    python -m seqit_utils.notebooks notebooks/00_data.ipynb outputs/smoke/notebooks/00_data.ipynb -p profile smoke

Cells tagged `report` (a notebook's result tables) have their printed output echoed to the terminal after a
successful run, so `dvc repro` shows the results, not only where they were written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KERNEL_NAME = "seqit"
REPORT_TAG = "report"
# Environment variables that decide where Jupyter/IPython/matplotlib write state (defaults are under $HOME).
_STATE_VARS = {
    "JUPYTER_DATA_DIR": "jupyter-data",
    "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
    "JUPYTER_CONFIG_DIR": "jupyter-config",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
}


@contextmanager
def private_kernel() -> Iterator[str]:
    """Yield the name of a kernelspec that runs `sys.executable`, with all Jupyter state in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="seqit-kernel-") as tmp:
        spec_dir = Path(tmp, "share", "kernels", KERNEL_NAME)
        spec_dir.mkdir(parents=True)
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "seqit (this environment)",
            "language": "python",
            # Keep BLAS/OpenMP to the threads torch chooses; OMP_NUM_THREADS from the caller still wins.
            "env": {"PYTHONHASHSEED": "0"},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        new_env = {var: str(Path(tmp, sub)) for var, sub in _STATE_VARS.items()}
        new_env["JUPYTER_PATH"] = os.pathsep.join(
            filter(None, [str(Path(tmp, "share")), os.environ.get("JUPYTER_PATH")])
        )
        new_env["JUPYTER_PLATFORM_DIRS"] = "1"
        saved = {var: os.environ.get(var) for var in new_env}
        os.environ.update(new_env)
        try:
            yield KERNEL_NAME
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    cwd: str | Path | None = None,
    prepare_only: bool = False,
    progress: bool = True,
) -> Path:
    """Execute `notebook` with papermill into `output` (parameters injected after the `parameters` cell).

    `cwd` defaults to the project root, so notebooks find `params/` and write `outputs/` the same way whether run
    from DVC, from a test or by hand. The executed notebook is written atomically: a failed run leaves the
    previous `output` in place and the partial one beside it as `<output>.failed.ipynb` for inspection.
    """
    import papermill

    from seqit_utils.config import find_project_root

    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.stem + ".partial.ipynb")
    cwd = Path(cwd) if cwd else find_project_root()
    with private_kernel() as kernel_name:
        try:
            papermill.execute_notebook(
                str(Path(notebook).resolve()),
                str(partial),
                parameters=parameters or {},
                kernel_name=kernel_name,
                language="python",
                cwd=str(cwd),
                prepare_only=prepare_only,
                progress_bar=progress,
                request_save_on_cell_execute=False,
            )
        except BaseException:
            if partial.exists():
                partial.replace(output.with_name(output.stem + ".failed.ipynb"))
            raise
    partial.replace(output)
    return output


def reported_text(executed: str | Path) -> str:
    """The printed (stdout) text of the executed notebook's cells tagged `report`, in order."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code" and REPORT_TAG in cell.metadata.get("tags", [])
        for out in cell.outputs
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )


def _parse_value(text: str) -> Any:
    """papermill's `-p` convention: numbers and booleans as such, anything else as a string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--prepare-only", action="store_true", help="inject parameters without executing")
    return parser


def add_command(subparsers: Any) -> None:
    """`seqit notebook NOTEBOOK OUTPUT -p NAME VALUE …`."""
    help_text = "run one notebook with papermill under this environment's kernel"
    _arguments(subparsers.add_parser("notebook", help=help_text, description=help_text)).set_defaults(func=_run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqit_utils.notebooks", description=__doc__.splitlines()[0])
    return _run(_arguments(parser).parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    params = {name: _parse_value(value) for name, value in args.parameter}
    out = run_notebook(args.notebook, args.output, params, prepare_only=args.prepare_only)
    print(f"executed {args.notebook} with {params} -> {out}")
    if not args.prepare_only:
        print(reported_text(out), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
