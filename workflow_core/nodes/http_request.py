"""http-request: render a request from the DSL and send it through ``HttpClient.send`` (§7.15).

Non-2xx answers are failures only when the node has an error strategy or retries enabled (§6);
otherwise the node succeeds with that status code. Credentials from ``authorization`` never
appear in the node's recorded inputs.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import json_repair
from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflow_core.files import file_from_path
from workflow_core.http_client import (
    FormFile,
    HttpClient,
    HttpClientError,
    HttpRequestSpec,
    HttpResponseData,
    Timeouts,
    default_http_client,
)
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.nodes.document_extractor import read_file_bytes

if TYPE_CHECKING:
    from workflow_core.context import RunContext

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["basic", "bearer", "custom"] = "bearer"
    api_key: str = ""
    header: str | None = None


class Authorization(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["no-auth", "api-key"] = "no-auth"
    config: AuthConfig | None = None


class BodyItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = ""
    type: Literal["text", "file"] = "text"
    value: str = ""
    file: list[str] = Field(default_factory=list)


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["none", "json", "form-data", "x-www-form-urlencoded", "raw-text", "binary"] = (
        "none"
    )
    data: list[BodyItem] = Field(default_factory=list)

    @field_validator("data", mode="before")
    @classmethod
    def _legacy_string(cls, value: Any) -> Any:
        # DSL 0.1.0 stored the body as one plain string (Text_to_Card_Iteration).
        if isinstance(value, str):
            return [{"key": "", "type": "text", "value": value}]
        return [] if value is None else value


class TimeoutConfig(BaseModel):
    """Seconds; 0 or absent = Dify's default; legacy ``max_*`` keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    connect: float | None = None
    read: float | None = None
    write: float | None = None

    def resolve(self) -> Timeouts:
        d = Timeouts()
        return Timeouts(
            connect=self.connect or d.connect, read=self.read or d.read, write=self.write or d.write
        )


class HttpRequestData(NodeData):
    method: str = "get"
    url: str
    authorization: Authorization = Field(default_factory=Authorization)
    headers: str = ""
    params: str = ""
    body: Body | None = None
    timeout: TimeoutConfig = Field(default_factory=TimeoutConfig)
    ssl_verify: bool = True

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value.lower() not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}")
        return value.lower()


def parse_lines(text: str) -> list[tuple[str, str]]:
    """``key:value`` lines (value may be empty or contain ':'); blank lines skipped."""
    pairs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        pairs.append((key.strip(), value.strip()))
    return pairs


@register("http-request")
class HttpRequestNode(Node[HttpRequestData]):
    data_model = HttpRequestData
    retryable = True

    def validate(self) -> None:
        auth = self.config.authorization
        if auth.type == "api-key" and auth.config is None:
            raise self.dsl_error("authorization.config", "api-key authorization needs a config")
        body = self.config.body
        if body and body.type == "binary" and not any(i.file for i in body.data):
            raise self.dsl_error("body.data", "binary body needs a file selector")

    def build_request(self, ctx: RunContext) -> HttpRequestSpec:
        c = self.config
        url = ctx.render(c.url).strip()
        if not url.startswith(("http://", "https://")):
            raise self.node_error(f"url must start with http:// or https://, got {url!r}")
        # Dify's order: render the whole block once, then split it into `key:value` lines.
        headers = parse_lines(ctx.render(c.headers))
        headers += self._auth_headers()
        params = parse_lines(ctx.render(c.params))
        kind, body = self._body(ctx)
        return HttpRequestSpec(
            method=c.method,
            url=url,
            headers=tuple(headers),
            params=tuple(params),
            body_kind=kind,
            body=body,
            timeouts=c.timeout.resolve(),
            verify_ssl=c.ssl_verify,
        )

    def _auth_headers(self) -> list[tuple[str, str]]:
        auth = self.config.authorization
        if auth.type != "api-key" or auth.config is None:
            return []
        key, cfg = auth.config.api_key, auth.config
        if cfg.type == "bearer":
            return [("Authorization", f"Bearer {key}")]
        if cfg.type == "basic":
            token = base64.b64encode(key.encode()).decode() if ":" in key else key
            return [("Authorization", f"Basic {token}")]
        return [(cfg.header or "Authorization", key)]

    def _body(self, ctx: RunContext) -> tuple[Any, Any]:
        body = self.config.body
        if body is None or body.type == "none" or not body.data:
            return "none", None
        if body.type == "json":
            text = ctx.render(body.data[0].value)
            if not text.strip():
                return "none", None
            try:
                return "json", json.loads(text)
            except json.JSONDecodeError:
                repaired = json_repair.repair_json(text, return_objects=True)
            if repaired == "":
                raise self.node_error(f"body is not JSON and cannot be repaired: {text[:200]!r}")
            return "json", repaired
        if body.type == "raw-text":
            return "raw-text", ctx.render(body.data[0].value).encode()
        if body.type == "binary":
            item = next(i for i in body.data if i.file)
            return "binary", read_file_bytes(self._file(ctx, item.file))[0]
        pairs: list[tuple[str, str | FormFile]] = []
        for item in body.data:
            key = ctx.render(item.key)
            if item.type == "file" and body.type == "form-data":
                files = self._file(ctx, item.file)
                for f in files if isinstance(files, list) else [files]:
                    data, name = read_file_bytes(f)
                    pairs.append((key, FormFile(name, data, f.get("mime_type") or "")))
            else:
                pairs.append((key, ctx.render(item.value)))
        return body.type, tuple(pairs)

    def _file(self, ctx: RunContext, selector: list[str]) -> Any:
        value = ctx.get(selector)
        if value is None:
            raise self.node_error(f"body file {'.'.join(selector)} is missing or null")
        return value

    def run(self, ctx: RunContext) -> NodeOutcome:
        request = self.build_request(ctx)
        client: HttpClient = ctx.services.http or default_http_client()
        recorded = {"method": request.method, "url": request.url}
        try:
            response = client.send(request)
        except HttpClientError as exc:
            raise self.node_error(str(exc)) from exc
        strict = self.config.error_strategy not in (None, "none") or (
            self.config.retry_config.retry_enabled
        )
        if strict and not response.ok:
            raise self.node_error(
                f"{request.method.upper()} {request.url} answered HTTP {response.status_code}: "
                f"{response.body[:200]}"
            )
        return NodeOutcome(outputs=self._outputs(response), inputs=recorded)

    def _outputs(self, response: HttpResponseData) -> dict[str, Any]:
        files: list[dict[str, Any]] = []
        if response.is_file and response.content:
            files.append(_save_response_file(response))
        return {
            "status_code": response.status_code,
            "body": response.body,
            "headers": response.headers,
            "files": files,
        }


def _save_response_file(response: HttpResponseData) -> dict[str, Any]:
    import mimetypes

    extension = mimetypes.guess_extension(response.content_type or "") or ".bin"
    directory = Path(tempfile.mkdtemp(prefix="flowscope-http-"))
    path = directory / f"response{extension}"
    path.write_bytes(response.content)
    return file_from_path(path)
