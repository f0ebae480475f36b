"""template-transform: Jinja2 in a sandboxed environment (SPEC §7.7)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register

if TYPE_CHECKING:
    from workflow_core.context import RunContext

MAX_OUTPUT_CHARS = 400_000
_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class NamedVariable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variable: str
    value_selector: list[str] = Field(default_factory=list)


class TemplateData(NodeData):
    template: str = ""
    variables: list[NamedVariable] = Field(default_factory=list)


@register("template-transform")
class TemplateTransformNode(Node[TemplateData]):
    data_model = TemplateData

    def validate(self) -> None:
        self._compiled()

    @functools.cached_property
    def _template(self) -> jinja2.Template:
        try:
            return _ENV.from_string(self.config.template)
        except jinja2.TemplateSyntaxError as exc:
            raise self.dsl_error(
                "template", f"Jinja2 syntax error line {exc.lineno}: {exc}"
            ) from exc

    def _compiled(self) -> jinja2.Template:
        return self._template

    def run(self, ctx: RunContext) -> NodeOutcome:
        values = {v.variable: ctx.get(v.value_selector) for v in self.config.variables}
        try:
            text = self._compiled().render(**values)
        except jinja2.TemplateError as exc:
            raise self.node_error(
                f"template rendering failed: {type(exc).__name__}: {exc}"
            ) from exc
        if len(text) > MAX_OUTPUT_CHARS:
            raise self.node_error(f"output longer than {MAX_OUTPUT_CHARS} characters")
        return NodeOutcome(outputs={"output": text}, inputs=values)
