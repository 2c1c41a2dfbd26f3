"""Load a ROS 2 YAML launch file into the list of node processes it describes.

Implements the subset of the YAML launch frontend that SigmaPrompt uses, with ``ros2 launch`` semantics
(``if``/``unless`` conditions on any action):
``arg`` (name, default, description), ``let``, ``node`` (pkg, exec, name, namespace, param [name/value or from],
remap, ros_args, args, output, respawn, respawn_delay, on_exit), ``group`` (a list of children, or a mapping with
``scoped`` and ``children``), ``push-ros-namespace``, ``include`` (file, arg) and the substitutions in
:mod:`sigma_launch.substitutions`. Anything else is refused with the file, line and tag named.
Pure apart from reading launch files; package lookup is injected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sigma_launch.substitutions import Scope, SubstitutionError, evaluate

_NODE_KEYS = {
    "pkg",
    "exec",
    "name",
    "namespace",
    "param",
    "remap",
    "ros_args",
    "args",
    "output",
    "respawn",
    "respawn_delay",
    "on_exit",
    "launch-prefix",
}


class LaunchFileError(Exception):
    """A launch file that cannot be loaded: names the file, the line and what is wrong."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.reason = path, line, message


@dataclass
class NodeSpec:
    """One node to run as a process, fully resolved."""

    package: str
    executable: str
    name: str | None
    namespace: str
    params: list[dict[str, Any] | str] = field(default_factory=list)  # inline dicts and parameter-file paths, in order
    remaps: list[tuple[str, str]] = field(default_factory=list)
    ros_args: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    output: str = "log"
    respawn: bool = False
    respawn_delay: float = 0.0
    shutdown_on_exit: bool = False
    origin: str = ""  # file:line, for messages

    @property
    def label(self) -> str:
        base = self.name or self.executable
        return f"{self.namespace.rstrip('/')}/{base}" if self.namespace not in ("", "/") else base


@dataclass
class ArgSpec:
    name: str
    default: str | None
    description: str


@dataclass
class _Context:
    configs: dict[str, str]
    namespace: str
    environ: Mapping[str, str]
    declared: list[ArgSpec]


class Loader:
    """Turns launch files into :class:`NodeSpec` lists."""

    def __init__(self, find_pkg_share: Callable[[str], str], environ: Mapping[str, str] | None = None) -> None:
        self._find_pkg_share = find_pkg_share
        self._environ = dict(os.environ if environ is None else environ)

    def load(self, path: str | os.PathLike[str], arguments: Mapping[str, str] | None = None) -> list[NodeSpec]:
        """Resolve ``path`` with command-line ``arguments`` (name → value) into node specs."""
        ctx = _Context(dict(arguments or {}), "", self._environ, [])
        nodes: list[NodeSpec] = []
        self._load_file(Path(path), ctx, nodes)
        return nodes

    def declared_arguments(self, path: str | os.PathLike[str]) -> list[ArgSpec]:
        """Arguments declared by the top-level file (for ``--show-args``)."""
        ctx = _Context({}, "", self._environ, [])
        root = self._read(Path(path))
        for item in self._actions(Path(path), root):
            tag, body = self._tag(Path(path), item)
            if tag == "arg":
                m = self._mapping(Path(path), body, tag)
                ctx.declared.append(
                    ArgSpec(str(m["name"].value), _raw(m.get("default")), _raw(m.get("description")) or "")
                )
        return ctx.declared

    # -- files ---------------------------------------------------------------------------------------
    def _read(self, path: Path) -> yaml.Node:
        try:
            text = path.read_text()
        except OSError as exc:
            raise LaunchFileError(path, 0, f"cannot read launch file: {exc.strerror}") from exc
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
            raise LaunchFileError(path, line, f"invalid YAML: {getattr(exc, 'problem', exc)}") from exc
        if not isinstance(root, yaml.MappingNode) or [k.value for k, _ in root.value] != ["launch"]:
            raise LaunchFileError(path, 1, "a YAML launch file must have a single top-level key 'launch'")
        return root.value[0][1]

    def _load_file(self, path: Path, ctx: _Context, nodes: list[NodeSpec]) -> None:
        body = self._read(path)
        self._run_actions(path, self._actions(path, body), ctx, nodes)

    def _actions(self, path: Path, node: yaml.Node) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise LaunchFileError(path, _line(node), "expected a list of actions")
        return list(node.value)

    def _tag(self, path: Path, item: yaml.Node) -> tuple[str, yaml.Node]:
        if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
            raise LaunchFileError(path, _line(item), "each action must be a mapping with exactly one tag")
        key, body = item.value[0]
        return str(key.value), body

    def _mapping(self, path: Path, node: yaml.Node, tag: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise LaunchFileError(path, _line(node), f"<{tag}> expects a mapping of attributes")
        return {str(k.value): v for k, v in node.value}

    # -- actions -------------------------------------------------------------------------------------
    def _run_actions(self, path: Path, items: list[yaml.Node], ctx: _Context, nodes: list[NodeSpec]) -> None:
        for item in items:
            tag, body = self._tag(path, item)
            handler = _HANDLERS.get(tag.replace("_", "-"))
            if handler is None:
                raise LaunchFileError(
                    path,
                    _line(item),
                    f"tag <{tag}> is not supported by sigma launch (supported: {', '.join(sorted(_HANDLERS))})",
                )
            body, enabled = self._condition(path, body, ctx, tag)
            if enabled:
                handler(self, path, body, ctx, nodes)

    def _condition(self, path: Path, body: yaml.Node, ctx: _Context, tag: str) -> tuple[yaml.Node, bool]:
        """Strip ``if``/``unless`` from an action (ros2 launch IfCondition/UnlessCondition) and evaluate them."""
        if not isinstance(body, yaml.MappingNode):
            return body, True
        enabled = True
        kept = []
        for key, value in body.value:
            if key.value in ("if", "unless"):
                truth = _bool(path, value, self._sub(path, value, ctx, f"<{tag}> {key.value}"))
                enabled = enabled and (truth if key.value == "if" else not truth)
            else:
                kept.append((key, value))
        if len(kept) == len(body.value):
            return body, True
        return yaml.MappingNode(body.tag, kept, body.start_mark, body.end_mark, body.flow_style), enabled

    def _sub(self, path: Path, node: yaml.Node | None, ctx: _Context, what: str) -> str:
        if node is None:
            return ""
        if not isinstance(node, yaml.ScalarNode):
            raise LaunchFileError(path, _line(node), f"{what} must be a scalar")
        scope = Scope(ctx.configs, ctx.environ, self._find_pkg_share, str(path.parent.resolve()))
        try:
            return evaluate(str(node.value), scope)
        except SubstitutionError as exc:
            raise LaunchFileError(path, _line(node), f"{what}: {exc}") from exc

    def _check_keys(
        self, path: Path, attrs: dict[str, yaml.Node], tag: str, allowed: set[str], required: set[str], line: int
    ) -> None:
        for key in attrs:
            if key not in allowed:
                raise LaunchFileError(
                    path,
                    _line(attrs[key]),
                    f"<{tag}> attribute {key!r} is not supported (supported: {', '.join(sorted(allowed))})",
                )
        for key in sorted(required - attrs.keys()):
            raise LaunchFileError(path, line, f"<{tag}> requires the attribute {key!r}")

    def _arg(self, path: Path, body: yaml.Node, ctx: _Context, nodes: list[NodeSpec]) -> None:
        attrs = self._mapping(path, body, "arg")
        self._check_keys(path, attrs, "arg", {"name", "default", "description"}, {"name"}, _line(body))
        name = self._sub(path, attrs["name"], ctx, "arg name")
        if name not in ctx.configs:
            if "default" not in attrs:
                raise LaunchFileError(
                    path, _line(body), f"argument {name!r} is required and was not given (pass {name}:=VALUE)"
                )
            ctx.configs[name] = self._sub(path, attrs["default"], ctx, f"default of arg {name!r}")
        desc = _raw(attrs.get("description")) or ""
        ctx.declared.append(ArgSpec(name, _raw(attrs.get("default")), desc))

    def _let(self, path: Path, body: yaml.Node, ctx: _Context, nodes: list[NodeSpec]) -> None:
        attrs = self._mapping(path, body, "let")
        self._check_keys(path, attrs, "let", {"name", "value"}, {"name", "value"}, _line(body))
        ctx.configs[self._sub(path, attrs["name"], ctx, "let name")] = self._sub(path, attrs["value"], ctx, "let value")

    def _push_ns(self, path: Path, body: yaml.Node, ctx: _Context, nodes: list[NodeSpec]) -> None:
        attrs = self._mapping(path, body, "push-ros-namespace")
        self._check_keys(path, attrs, "push-ros-namespace", {"namespace"}, {"namespace"}, _line(body))
        ctx.namespace = join_namespace(ctx.namespace, self._sub(path, attrs["namespace"], ctx, "namespace"))

    def _group(self, path: Path, body: yaml.Node, ctx: _Context, nodes: list[NodeSpec]) -> None:
        scoped = True
        if isinstance(body, yaml.MappingNode):
            attrs = self._mapping(path, body, "group")
            self._check_keys(path, attrs, "group", {"scoped", "children"}, {"children"}, _line(body))
            if "scoped" in attrs:
                scoped = _bool(path, attrs["scoped"], self._sub(path, attrs["scoped"], ctx, "scoped"))
            children = attrs["children"]
        else:
            children = body
        inner = _Context(dict(ctx.configs), ctx.namespace, ctx.environ, ctx.declared) if scoped else ctx
        self._run_actions(path, self._actions(path, children), inner, nodes)

    def _include(self, path: Path, body: yaml.Node, ctx: _Context, nodes: list[NodeSpec]) -> None:
        attrs = self._mapping(path, body, "include")
        self._check_keys(path, attrs, "include", {"file", "arg"}, {"file"}, _line(body))
        target = Path(self._sub(path, attrs["file"], ctx, "include file"))
        if not target.is_absolute():
            target = path.parent / target
        if target.suffix != ".yaml":
            raise LaunchFileError(path, _line(attrs["file"]), f"only YAML launch files can be included, not {target}")
        for arg in self._actions(path, attrs["arg"]) if "arg" in attrs else []:
            a = self._mapping(path, arg, "arg")
            self._check_keys(path, a, "include/arg", {"name", "value"}, {"name", "value"}, _line(arg))
            ctx.configs[self._sub(path, a["name"], ctx, "arg name")] = self._sub(path, a["value"], ctx, "arg value")
        # As in ros2 launch, the included file runs in the caller's context (wrap it in a <group> to scope it).
        sub = _Context(ctx.configs, ctx.namespace, ctx.environ, [])
        self._load_file(target, sub, nodes)

    def _node(self, path: Path, body: yaml.Node, ctx: _Context, nodes: list[NodeSpec]) -> None:
        attrs = self._mapping(path, body, "node")
        self._check_keys(path, attrs, "node", _NODE_KEYS - {"launch-prefix"}, {"pkg", "exec"}, _line(body))
        s = lambda key, what=None: self._sub(path, attrs.get(key), ctx, what or f"node {key}")  # noqa: E731
        own_ns = s("namespace")
        spec = NodeSpec(
            package=s("pkg"),
            executable=s("exec"),
            name=s("name") or None,
            namespace=join_namespace(ctx.namespace, own_ns) or "/",
            ros_args=s("ros_args").split(),
            args=s("args").split(),
            output=s("output") or "log",
            origin=f"{path}:{_line(body)}",
        )
        if spec.output not in ("screen", "log", "both"):
            raise LaunchFileError(
                path, _line(attrs["output"]), f"node output must be screen, log or both, not {spec.output!r}"
            )
        if "respawn" in attrs:
            spec.respawn = _bool(path, attrs["respawn"], s("respawn"))
        if "respawn_delay" in attrs:
            spec.respawn_delay = _float(path, attrs["respawn_delay"], s("respawn_delay"))
        if "on_exit" in attrs:
            action = s("on_exit")
            if action != "shutdown":
                raise LaunchFileError(
                    path, _line(attrs["on_exit"]), f"on_exit supports only 'shutdown', not {action!r}"
                )
            spec.shutdown_on_exit = True
        for p in self._actions(path, attrs["param"]) if "param" in attrs else []:
            spec.params.append(self._param(path, p, ctx))
        for r in self._actions(path, attrs["remap"]) if "remap" in attrs else []:
            m = self._mapping(path, r, "remap")
            self._check_keys(path, m, "remap", {"from", "to"}, {"from", "to"}, _line(r))
            spec.remaps.append(
                (self._sub(path, m["from"], ctx, "remap from"), self._sub(path, m["to"], ctx, "remap to"))
            )
        nodes.append(spec)

    def _param(self, path: Path, node: yaml.Node, ctx: _Context) -> dict[str, Any] | str:
        m = self._mapping(path, node, "param")
        if "from" in m:
            self._check_keys(path, m, "param", {"from"}, {"from"}, _line(node))
            file = self._sub(path, m["from"], ctx, "param file")
            if not Path(file).is_file():
                raise LaunchFileError(path, _line(m["from"]), f"parameter file {file} does not exist")
            return file
        self._check_keys(path, m, "param", {"name", "value"}, {"name", "value"}, _line(node))
        name = self._sub(path, m["name"], ctx, "param name")
        return {name: self._param_value(path, m["value"], ctx, name)}

    def _param_value(self, path: Path, node: yaml.Node, ctx: _Context, name: str) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return [self._param_value(path, v, ctx, name) for v in node.value]
        if not isinstance(node, yaml.ScalarNode):
            raise LaunchFileError(path, _line(node), f"param {name!r}: value must be a scalar or a list")
        text = self._sub(path, node, ctx, f"param {name!r}")
        if node.style in ("'", '"') and "$(" not in str(node.value):
            return text  # an explicitly quoted literal stays a string
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            return text
        return value if isinstance(value, (bool, int, float, str, list)) else text


def join_namespace(base: str, ns: str) -> str:
    """ROS namespace composition: an absolute ``ns`` replaces ``base``; a relative one is appended."""
    if not ns:
        return base
    if ns.startswith("/"):
        return "/" + ns.strip("/") if ns.strip("/") else "/"
    return "/" + "/".join(p for p in (base.strip("/"), ns.strip("/")) if p)


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _raw(node: yaml.Node | None) -> str | None:
    return None if node is None else str(node.value)


def _bool(path: Path, node: yaml.Node, text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise LaunchFileError(path, _line(node), f"expected true or false, got {text!r}")


def _float(path: Path, node: yaml.Node, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise LaunchFileError(path, _line(node), f"expected a number, got {text!r}") from None


_HANDLERS: dict[str, Callable[..., None]] = {
    "arg": Loader._arg,
    "let": Loader._let,
    "node": Loader._node,
    "group": Loader._group,
    "include": Loader._include,
    "push-ros-namespace": Loader._push_ns,
}
