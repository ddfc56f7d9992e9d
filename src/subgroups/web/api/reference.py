"""The API reference: the hand-kept OpenAPI document shipped in this package, and a page rendering it.

The page is plain HTML built on the server from the document, with its stylesheet inline: it needs
no script and nothing from another site, so it works on a machine with no internet access.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import cache
from importlib.resources import files
from typing import Any

import orjson

_METHODS = ("get", "post", "put", "patch", "delete")
_CODE_SPAN = re.compile(r"`([^`]+)`")


@cache
def document_bytes() -> bytes:
    return files("subgroups.web.api").joinpath("openapi.json").read_bytes()


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(document_bytes())
    return loaded


@cache
def page() -> str:
    return _Renderer(document()).render()


@cache
def page_policy() -> str:
    """The page's Content-Security-Policy: nothing may load but its own inline stylesheet."""
    digest = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; frame-ancestors 'none';"
        " base-uri 'none'; form-action 'none'"
    )


def _prose(text: str) -> str:
    """The little Markdown the document uses: paragraphs, `- ` lists and `code` spans."""
    blocks = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append(f"<p>{_inline(block)}</p>")
    return "\n".join(blocks)


def _inline(text: str) -> str:
    return _CODE_SPAN.sub(r"<code>\1</code>", html.escape(text, quote=False))


def _anchor(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def _json_block(value: object) -> str:
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return f"<pre><code>{html.escape(text, quote=False)}</code></pre>"


class _Renderer:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.components: dict[str, Any] = doc.get("components", {})

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            _, _, kind, name = node["$ref"].split("/")
            node = self.components[kind][name]
        return node

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (path, method, item[method])
            for path, item in self.doc["paths"].items()
            for method in _METHODS
            if method in item
        ]

    def render(self) -> str:
        info = self.doc["info"]
        title = html.escape(info["title"])
        body = [
            f"<header><h1>{title} <small>{html.escape(info['version'])}</small></h1>",
            f"<p class=lead>{_inline(info.get('summary', ''))}</p>",
            '<p><a href="/openapi.json">OpenAPI document (JSON)</a></p></header>',
            f"<nav>{self.contents()}</nav>",
            "<main>",
            f"<section id=overview><h2>Overview</h2>{_prose(info.get('description', ''))}</section>",
            self.security_section(),
            *(self.operation(path, method, op) for path, method, op in self.operations()),
            self.schemas_section(),
            "</main>",
        ]
        return _PAGE.format(title=title, style=_STYLE, body="\n".join(body))

    def contents(self) -> str:
        groups: dict[str, list[str]] = {}
        for path, method, op in self.operations():
            tag = (op.get("tags") or ["Other"])[0]
            link = (
                f'<li><a href="#{_anchor(method, path)}"><span class="method {method}">'
                f"{method.upper()}</span> {html.escape(path)}</a></li>"
            )
            groups.setdefault(tag, []).append(link)
        parts = [
            '<p><a href="#overview">Overview</a></p>',
            '<p><a href="#security">API keys</a></p>',
        ]
        for tag, links in groups.items():
            parts.append(f"<h3>{html.escape(tag)}</h3><ul>{''.join(links)}</ul>")
        parts.append('<p><a href="#schemas">Schemas</a></p>')
        return "".join(parts)

    def security_section(self) -> str:
        rows = "".join(
            f"<dt><code>{html.escape(name)}</code></dt><dd>{_prose(scheme.get('description', ''))}</dd>"
            for name, scheme in self.components.get("securitySchemes", {}).items()
        )
        return f"<section id=security><h2>API keys</h2><dl>{rows}</dl></section>"

    def operation(self, path: str, method: str, op: dict[str, Any]) -> str:
        parts = [
            f'<section class=operation id="{_anchor(method, path)}">',
            f'<h2><span class="method {method}">{method.upper()}</span> '
            f"<code>{html.escape(path)}</code></h2>",
            f"<p class=summary>{_inline(op.get('summary', ''))}</p>",
            _prose(op.get("description", "")),
            self.auth_line(op),
        ]
        if op.get("parameters"):
            parts.append("<h3>Parameters</h3>" + self.parameters(op["parameters"]))
        if "requestBody" in op:
            parts.append("<h3>Request body</h3>" + self.media(op["requestBody"]["content"]))
        parts.append("<h3>Responses</h3>" + self.responses(op["responses"]))
        parts.append("</section>")
        return "\n".join(parts)

    def auth_line(self, op: dict[str, Any]) -> str:
        names = [name for requirement in op.get("security", []) for name in requirement]
        if not names:
            return "<p class=auth>No key needed.</p>"
        keys = ", ".join(f"<code>{html.escape(n)}</code>" for n in names)
        return f'<p class=auth>Key: {keys} (see <a href="#security">API keys</a>).</p>'

    def parameters(self, params: list[dict[str, Any]]) -> str:
        rows = []
        for param in (self.resolve(p) for p in params):
            required = "required" if param.get("required") else "optional"
            required += ", in the path" if param.get("in") == "path" else ", in the query"
            rows.append(
                f"<tr><td><code>{html.escape(param['name'])}</code></td>"
                f"<td>{self.type_of(param.get('schema', {}))}</td><td>{required}</td>"
                f"<td>{_prose(param.get('description', ''))}</td></tr>"
            )
        return _table(("Name", "Type", "", "Description"), rows)

    def media(self, content: dict[str, Any]) -> str:
        parts = []
        for media_type, media in content.items():
            parts.append(
                f"<p class=media>{html.escape(media_type)}: {self.type_of(media['schema'])}</p>"
            )
            schema = self.resolve(media["schema"])
            if "properties" in schema:
                parts.append(self.fields(schema))
            for example in media.get("examples", {}).values():
                summary = _inline(example.get("summary", ""))
                parts.append(f"<details><summary>{summary}</summary>")
                parts.append(_json_block(example["value"]) + "</details>")
        return "\n".join(parts)

    def responses(self, responses: dict[str, Any]) -> str:
        parts = []
        for status, response in responses.items():
            resolved = self.resolve(response)
            parts.append(
                f"<div class=response><h4><span class=status>{html.escape(status)}</span> "
                f"{_inline(resolved.get('description', ''))}</h4>"
            )
            for media_type, media in resolved.get("content", {}).items():
                parts.append(
                    f"<p class=media>{html.escape(media_type)}: {self.type_of(media['schema'])}</p>"
                )
                messages = [
                    e["value"]["message"]
                    for e in media.get("examples", {}).values()
                    if set(e["value"]) == {"message"}
                ]
                if messages:
                    items = "".join(f"<li><code>{html.escape(m)}</code></li>" for m in messages)
                    parts.append(f"<ul class=messages>{items}</ul>")
                for example in media.get("examples", {}).values():
                    if set(example["value"]) != {"message"}:
                        parts.append(
                            f"<details><summary>{_inline(example.get('summary', ''))}</summary>"
                            f"{_json_block(example['value'])}</details>"
                        )
            parts.append("</div>")
        return "\n".join(parts)

    def fields(self, schema: dict[str, Any]) -> str:
        required = set(schema.get("required", []))
        rows = []
        for name, prop in schema.get("properties", {}).items():
            description = prop.get("description") or self.resolve(prop).get("description", "")
            flags = "required" if name in required else "optional"
            if self.resolve(prop).get("deprecated") or prop.get("deprecated"):
                flags += ", deprecated"
            rows.append(
                f"<tr><td><code>{html.escape(name)}</code></td><td>{self.type_of(prop)}</td>"
                f"<td>{flags}</td><td>{_prose(description)}</td></tr>"
            )
        return _table(("Field", "Type", "", "Description"), rows)

    def type_of(self, schema: dict[str, Any]) -> str:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            return f'<a href="#schema-{_anchor(name)}">{html.escape(name)}</a>'
        choices = schema.get("anyOf") or schema.get("oneOf")
        if choices:
            return " or ".join(self.type_of(s) for s in choices)
        if "const" in schema:
            return f"<code>{html.escape(orjson.dumps(schema['const']).decode())}</code>"
        if "enum" in schema:
            values = ", ".join(f"<code>{html.escape(str(v))}</code>" for v in schema["enum"])
            return f"one of {values}"
        kind = schema.get("type", "any")
        if kind == "array":
            label = f"list of {self.type_of(schema.get('items', {}))}"
            if "maxItems" in schema:
                label += f" (at most {schema['maxItems']})"
            return label
        if kind == "object" and "additionalProperties" in schema:
            return f"object of {self.type_of(schema['additionalProperties'])}"
        label = " or ".join(kind) if isinstance(kind, list) else kind
        if "minimum" in schema or "maximum" in schema:
            label += f" ({schema.get('minimum', '')}-{schema.get('maximum', '')})"
        return html.escape(label)

    def schemas_section(self) -> str:
        parts = ["<section id=schemas><h2>Schemas</h2>"]
        for name, schema in self.components.get("schemas", {}).items():
            parts.append(
                f'<div class=schema id="schema-{_anchor(name)}"><h3>{html.escape(name)}</h3>'
            )
            parts.append(_prose(schema.get("description", "")))
            parts.append(
                self.fields(schema) if "properties" in schema else f"<p>{self.type_of(schema)}</p>"
            )
            parts.append("</div>")
        parts.append("</section>")
        return "\n".join(parts)


def _table(headings: tuple[str, ...], rows: list[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API reference</title>
<style>{style}</style>
</head>
<body>
{body}
</body>
</html>
"""

_STYLE = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #dfe3ea; --code: #f3f5f8; --accent: #2457c5; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
  display: grid; grid-template-columns: 20rem 1fr; grid-template-areas: "head head" "nav main"; }
header { grid-area: head; padding: 1.2rem 2rem; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 1.6rem; } header small { color: var(--muted); font-weight: normal; }
.lead { margin: .3rem 0; color: var(--muted); }
nav { grid-area: nav; padding: 1rem 1.2rem; border-right: 1px solid var(--line); position: sticky; top: 0;
  align-self: start; max-height: 100vh; overflow-y: auto; font-size: .9rem; }
nav ul { list-style: none; padding: 0; margin: 0 0 1rem; } nav li { margin: .25rem 0; white-space: nowrap; }
nav h3 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
main { grid-area: main; padding: 0 2rem 4rem; max-width: 62rem; }
section { border-bottom: 1px solid var(--line); padding: 1.2rem 0; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
code { background: var(--code); padding: .05rem .3rem; border-radius: 3px; font-size: .88em; }
pre { background: var(--code); padding: .8rem; border-radius: 5px; overflow-x: auto; }
pre code { padding: 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); padding: .4rem .5rem; }
td p { margin: 0 0 .3rem; }
td:first-child { white-space: nowrap; } td:nth-child(2) { min-width: 9rem; }
.method { display: inline-block; min-width: 3.2rem; text-align: center; border-radius: 4px; color: #fff;
  font-size: .75rem; font-weight: 600; padding: .1rem .35rem; }
.method.get { background: #1f7a4d; } .method.post { background: #2457c5; }
.method.put, .method.patch { background: #a05a00; } .method.delete { background: #b3261e; }
.summary { font-weight: 600; } .auth, .media { color: var(--muted); font-size: .9rem; }
.response h4 { margin: .8rem 0 .2rem; font-weight: 600; }
.status { font-family: ui-monospace, monospace; background: var(--ink); color: #fff; border-radius: 3px;
  padding: 0 .35rem; margin-right: .3rem; }
.messages { margin: .2rem 0; } details { margin: .3rem 0; } summary { cursor: pointer; }
@media (max-width: 48rem) { body { display: block; } nav { position: static; max-height: none; } }
"""
