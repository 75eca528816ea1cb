"""The notebook form of :func:`heygen_lab.emulate`: ``%load_ext heygen_lab``, then::

    %heygen_emulate                        # strict, plan pro, for the rest of the session
    %heygen_emulate --plan trial --lenient # a 40001 comes back as HeyGen sends it
    %heygen_emulate --allow wrong-host --fault rate_limit:route=/v3/assets,times=1
    %heygen_emulate status                 # what is running, how many requests so far
    %heygen_emulate off                    # stop; HeyGen's hosts go back to the network

The magic returns the running :class:`~heygen_lab.emulation.Emulation`
(``emu = %heygen_emulate``; then ``emu.requests``). IPython is imported only by IPython itself.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from heygen_lab.emulation import Emulation, emulate

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_session: Emulation | None = None


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error to IPython instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        from IPython.core.error import UsageError

        raise UsageError(f"%heygen_emulate: {message}\n{self.format_usage()}")


def _parser() -> _Parser:
    parser = _Parser(prog="%heygen_emulate", add_help=False,
                     description="Answer api.heygen.com and upload.heygen.com in process.")
    parser.add_argument("action", nargs="?", choices=("on", "off", "status"), default="on")
    parser.add_argument("--plan", default=None, help="plan profile: trial, pro, payg, or a file")
    parser.add_argument("--lenient", action="store_true",
                        help="return HeyGen's error for a known mistake instead of raising")
    parser.add_argument("--allow", action="append", default=[], metavar="ID",
                        help="a mistake id strict mode lets through (repeatable)")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="an emulator fault, as in heygen-lab serve --fault (repeatable)")
    parser.add_argument("--key", default=None, help="the only API key accepted (default: any)")
    return parser


def heygen_emulate(line: str) -> Emulation | None:
    """``%heygen_emulate [on|off|status] [--plan P] [--lenient] [--allow ID] [--fault SPEC]``."""
    global _session
    args = _parser().parse_args(shlex.split(line))
    if args.action == "status":
        return _session
    if _session is not None:  # "on" again restarts with the new options
        _session.stop()
        _session = None
    if args.action == "off":
        return None
    options: dict[str, Any] = {"strict": not args.lenient, "allow": args.allow,
                               "key": args.key}
    if args.plan:
        options["plan"] = args.plan
    if args.fault:
        options["faults"] = ";".join(args.fault)
    _session = emulate(**options).start()
    return _session


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%heygen_emulate`` (IPython calls this for ``%load_ext heygen_lab``)."""
    ipython.register_magic_function(heygen_emulate, "line", "heygen_emulate")


def unload_ipython_extension(ipython: Any) -> None:
    """Stop a running emulation when the extension is unloaded."""
    global _session
    if _session is not None:
        _session.stop()
        _session = None
