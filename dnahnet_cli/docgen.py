"""Generate man pages and static shell completions from the command tree.

    python -m dnahnet_cli.docgen            # rewrite man/ and completions/
    python -m dnahnet_cli.docgen --check    # exit 1 if the committed files are stale

Static completion scripts list every command and option, so pressing TAB never starts Python.
"""

from __future__ import annotations

from enum import Enum

import argparse
import enum
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from dnahnet_core.version import __version__

from .main import app

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Opt:
    names: list[str]  # e.g. ["--output", "-o"] (flags: ["--rc-augment", "--no-rc-augment"])
    help: str
    metavar: str  # "" for flags
    default: str
    choices: list[str]
    is_path: bool


@dataclass
class Cmd:
    name: str
    help: str
    short: str
    options: list[Opt]
    arguments: list[tuple[str, str, bool]]  # (metavar, help, is_path)


# Typer ships its own copy of Click, so parameters are recognised by duck typing, not isinstance.
def _is_option(p: Any) -> bool:
    return getattr(p, "param_type_name", "") == "option"


def _is_argument(p: Any) -> bool:
    return getattr(p, "param_type_name", "") == "argument"


def _annotation(p: Any) -> Any:
    """The Python type a parameter was declared with (Typer >= 0.29 keeps it on type_descriptor;
    older Typer exposes a Click type instead, handled in the callers)."""
    ann = getattr(getattr(p, "type_descriptor", None), "annotation", None)
    if typing.get_origin(ann) in (list, typing.Union, types.UnionType):
        ann = next(a for a in typing.get_args(ann) if a is not type(None))
    return ann


def _is_path(p: Any) -> bool:
    ann = _annotation(p)
    return ann is Path if ann is not None else type(getattr(p, "type", None)).__name__ in ("Path", "File")


def _choices(p: Any) -> list[str]:
    ann = _annotation(p)
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return [str(e.value) for e in ann]
    return [str(c) for c in getattr(getattr(p, "type", None), "choices", None) or []]


def _metavar(p: Any) -> str:
    if p.metavar:
        return str(p.metavar)
    ann = _annotation(p)
    names = {Path: "PATH", int: "INTEGER", float: "FLOAT", str: "TEXT"}
    if ann in names:
        return names[ann]
    if _choices(p):
        return "[" + "|".join(_choices(p)) + "]"
    return p.name.upper()


def _root() -> Any:
    return typer.main.get_command(app)


def _opt(p: Any, ctx: Any) -> Opt:
    names = list(p.opts) + list(p.secondary_opts)
    metavar = "" if p.is_flag else _metavar(p)
    value = p.default.value if isinstance(p.default, Enum) else p.default  # an Enum default shows its value
    default = "" if value is None or p.is_flag and not p.secondary_opts or p.required else str(value)
    if p.secondary_opts and isinstance(p.default, bool):
        default = p.opts[0] if p.default else p.secondary_opts[0]
    return Opt(names, (p.help or "").strip(), metavar, default, _choices(p), _is_path(p))


def commands() -> list[Cmd]:
    """The tool and each subcommand, in registration order (the tool itself first)."""
    root = _root()
    ctx = root.context_class(root, info_name="dnahnet")
    out = [Cmd("dnahnet", (root.help or "").strip(), (root.help or "").strip().splitlines()[0],
               [_opt(p, ctx) for p in root.params if _is_option(p)] + [Opt(["--help", "-h"], "Show help and exit.", "", "", [], False)], [])]
    for name, cmd in root.commands.items():
        sub = cmd.context_class(cmd, info_name=name, parent=ctx)
        opts = [_opt(p, sub) for p in cmd.params if _is_option(p) and not p.hidden]
        opts.append(Opt(["--help", "-h"], "Show help and exit.", "", "", [], False))
        args = [(p.name.upper(), getattr(p, "help", "") or "",
                 _is_path(p)) for p in cmd.params if _is_argument(p)]
        help_text = (cmd.help or "").strip()
        out.append(Cmd(name, help_text, help_text.splitlines()[0] if help_text else name, opts, args))
    return out


# ---- man pages ---------------------------------------------------------------------------------
def _roff(text: str) -> str:
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        line = line.replace("-", "\\-")
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def render_man(cmd: Cmd, all_cmds: list[Cmd]) -> str:
    title = "DNAHNET" if cmd.name == "dnahnet" else f"DNAHNET-{cmd.name.upper()}"
    full = "dnahnet" if cmd.name == "dnahnet" else f"dnahnet {cmd.name}"
    parts = [f'.TH {title} 1 "" "dnahnet {__version__}" "dnahnet manual"', ".SH NAME",
             _roff(f"{full.replace(' ', '-')} - {cmd.short}"), ".SH SYNOPSIS", f".B {_roff(full)}",
             _roff("[OPTIONS]" + ("" if cmd.name != "dnahnet" else " COMMAND [ARGS]...") + "".join(f" {a[0]}" for a in cmd.arguments)),
             ".SH DESCRIPTION"]
    paragraphs = [p.strip() for p in cmd.help.split("\n\n") if p.strip()]
    for p in paragraphs:
        parts += [".PP", _roff(" ".join(p.split()))]
    if cmd.arguments:
        parts.append(".SH ARGUMENTS")
        for metavar, help_text, _ in cmd.arguments:
            parts += [".TP", f".I {_roff(metavar)}", _roff(help_text or "")]
    parts.append(".SH OPTIONS")
    for o in cmd.options:
        head = ", ".join(f"\\fB{_roff(n)}\\fR" for n in o.names) + (f" \\fI{_roff(o.metavar)}\\fR" if o.metavar else "")
        body = o.help + (f" Choices: {', '.join(o.choices)}." if o.choices else "") + (f" Default: {o.default}." if o.default else "")
        parts += [".TP", head, _roff(body)]
    if cmd.name == "dnahnet":
        parts.append(".SH COMMANDS")
        for c in all_cmds[1:]:
            parts += [".TP", f"\\fBdnahnet {_roff(c.name)}\\fR", _roff(c.short) + f" See \\fBdnahnet\\-{_roff(c.name)}\\fR(1)."]
    parts += [".SH COORDINATES", "BED output is 0\\-based, half\\-open. VCF and GFF3 input are 1\\-based, inclusive.",
              ".SH EXIT STATUS", "0 success; 1 runtime failure (bad input, unreadable model, ...); 2 usage error. "
              "Set DNAHNET_DEBUG=1 to print the traceback of a failure.",
              ".SH SEE ALSO", ", ".join(f"\\fB{'dnahnet' if c.name == 'dnahnet' else 'dnahnet-' + _roff(c.name)}\\fR(1)" for c in all_cmds if c.name != cmd.name)]
    return "\n".join(parts) + "\n"


# ---- completions -------------------------------------------------------------------------------
def render_bash(cmds: list[Cmd]) -> str:
    subs = " ".join(c.name for c in cmds[1:])
    cases = []
    for c in cmds[1:]:
        words = " ".join(n for o in c.options for n in o.names)
        path_opts = "|".join(n for o in c.options if o.is_path for n in o.names) or "__none__"
        choice_cases = "".join(f"            {'|'.join(o.names)}) COMPREPLY=( $(compgen -W \"{' '.join(o.choices)}\" -- \"$cur\") ); return ;;\n" for o in c.options if o.choices)
        cases.append(f"        {c.name})\n          case \"$prev\" in\n{choice_cases}            {path_opts}) COMPREPLY=( $(compgen -f -- \"$cur\") ); return ;;\n          esac\n"
                     f"          if [[ \"$cur\" == -* ]]; then COMPREPLY=( $(compgen -W \"{words}\" -- \"$cur\") ); else COMPREPLY=( $(compgen -f -- \"$cur\") ); fi ;;\n")
    return ("# bash completion for dnahnet (generated by python -m dnahnet_cli.docgen; do not edit)\n"
            "_dnahnet() {\n  local cur prev sub i\n  cur=\"${COMP_WORDS[COMP_CWORD]}\"; prev=\"${COMP_WORDS[COMP_CWORD-1]}\"; sub=\"\"\n"
            "  for ((i=1; i<COMP_CWORD; i++)); do case \"${COMP_WORDS[i]}\" in -*) ;; *) sub=\"${COMP_WORDS[i]}\"; break ;; esac; done\n"
            f"  if [[ -z \"$sub\" ]]; then COMPREPLY=( $(compgen -W \"{subs} --version --help\" -- \"$cur\") ); return; fi\n"
            "  case \"$sub\" in\n" + "".join(cases) + "  esac\n}\ncomplete -o filenames -F _dnahnet dnahnet\n")


def _zsh_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def render_zsh(cmds: list[Cmd]) -> str:
    lines = ["#compdef dnahnet", "# zsh completion for dnahnet (generated by python -m dnahnet_cli.docgen; do not edit)", "", "_dnahnet() {",
             "  local -a commands", "  commands=("]
    lines += [f"    '{c.name}:{_zsh_escape(c.short)}'" for c in cmds[1:]]
    lines += ["  )", "  if (( CURRENT == 2 )); then", "    _describe -t commands 'dnahnet command' commands", "    _arguments '--version[print the version]' '(-h --help)'{-h,--help}'[show help]'", "    return", "  fi",
              "  local cmd=${words[2]}", "  shift words; (( CURRENT-- ))", "  case $cmd in"]
    for c in cmds[1:]:
        specs = []
        for o in c.options:
            action = f":{o.metavar.lower() or 'value'}:({' '.join(o.choices)})" if o.choices else (":file:_files" if o.is_path else (f":{_zsh_escape(o.metavar.lower())}:" if o.metavar else ""))
            for n in o.names:
                specs.append(f"'{n}[{_zsh_escape(o.help.splitlines()[0] if o.help else n)}]{action}'")
        specs += ["'*:file:_files'"] if c.arguments else []
        lines.append(f"    {c.name}) _arguments \\\n      " + " \\\n      ".join(specs) + " ;;")
    lines += ["  esac", "}", "", '_dnahnet "$@"', ""]
    return "\n".join(lines)


def render_fish(cmds: list[Cmd]) -> str:
    esc = lambda s: s.replace("\\", "\\\\").replace("'", "\\'")  # noqa: E731
    lines = ["# fish completion for dnahnet (generated by python -m dnahnet_cli.docgen; do not edit)", "complete -c dnahnet -f",
             "complete -c dnahnet -n '__fish_use_subcommand' -l version -d 'Print the version'"]
    for c in cmds[1:]:
        lines.append(f"complete -c dnahnet -n '__fish_use_subcommand' -a {c.name} -d '{esc(c.short)}'")
    for c in cmds[1:]:
        cond = f"__fish_seen_subcommand_from {c.name}"
        if c.arguments:
            lines.append(f"complete -c dnahnet -n '{cond}' -F")
        for o in c.options:
            for n in o.names:
                flag = f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}"
                extra = f" -x -a '{' '.join(o.choices)}'" if o.choices else (" -r -F" if o.is_path else (" -x" if o.metavar else ""))
                lines.append(f"complete -c dnahnet -n '{cond}' {flag}{extra} -d '{esc(o.help.splitlines()[0] if o.help else n)}'")
    return "\n".join(lines) + "\n"


def generated_files() -> dict[Path, str]:
    cmds = commands()
    files = {Path("completions/dnahnet.bash"): render_bash(cmds), Path("completions/_dnahnet"): render_zsh(cmds),
             Path("completions/dnahnet.fish"): render_fish(cmds)}
    for c in cmds:
        files[Path("man") / ("dnahnet.1" if c.name == "dnahnet" else f"dnahnet-{c.name}.1")] = render_man(c, cmds)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate man pages and shell completions for dnahnet.")
    ap.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    ap.add_argument("--check", action="store_true", help="exit 1 if any generated file differs from the committed one")
    args = ap.parse_args(argv)
    stale = []
    for rel, text in generated_files().items():
        path = args.root / rel
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(rel))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print("stale generated files (run python -m dnahnet_cli.docgen): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
