"""The triggers config file (YAML), parsed once into frozen pydantic models.

```yaml
triggers:
  - id: support-email
    type: webhook
    workflow: support_reply.yml          # relative to this file
    signature: {preset: standard, secret_env: SUPPORT_WEBHOOK_SECRET}
    inputs:
      subject: {from: "body:/subject", type: string}
      priority: {from: "query:priority", type: integer, required: false, default: 3}
    callback: {url: "http://127.0.0.1:9000/approve", secret_env: SUPPORT_CALLBACK_SECRET}
  - id: nightly-report
    type: schedule
    workflow: report.yml
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    missed: run_once
```

Secrets come from the environment (``secret_env``) or, for local use, inline (``secret``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workflow_core.triggers.errors import TriggerConfigError

InputType = Literal["string", "number", "integer", "boolean", "object", "array"]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SOURCE = re.compile(r"^(body|query|header):(.*)$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class InputMapping(_Model):
    """Where one workflow input comes from: ``body:/json/pointer``, ``body:dotted.path``,
    ``query:name`` or ``header:Name``."""

    source: str = Field(alias="from")
    type: InputType = "string"
    required: bool = True
    default: Any = None

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if not _SOURCE.match(value):
            raise ValueError(
                f"must start with body:, query: or header: (e.g. body:/subject), got {value!r}"
            )
        return value


class SignatureConfig(_Model):
    """HMAC-SHA256 verification of a webhook delivery.

    ``standard``: ``header`` = ``sha256=HEX(HMAC(secret, "<timestamp>.<raw body>"))`` with the
    Unix time in ``timestamp_header``, accepted within ``tolerance_seconds``.
    ``github``: ``X-Hub-Signature-256`` = ``sha256=HEX(HMAC(secret, raw body))`` (GitHub sends no
    timestamp; its ``X-GitHub-Delivery`` id is the idempotency key instead).
    ``none``: no verification (only for triggers on a trusted network).
    """

    preset: Literal["standard", "github", "none"] = "standard"
    secret: str | None = None
    secret_env: str | None = None
    header: str | None = None
    timestamp_header: str = "X-Flowscope-Timestamp"
    tolerance_seconds: int = Field(default=300, ge=1)

    @property
    def signature_header(self) -> str:
        if self.header:
            return self.header
        return "X-Hub-Signature-256" if self.preset == "github" else "X-Flowscope-Signature"


class CallbackConfig(_Model):
    """POST the run result to ``url``, signed like a standard webhook, retried with back-off."""

    url: str
    secret: str | None = None
    secret_env: str | None = None
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)


class _Trigger(_Model):
    id: str
    workflow: Path
    max_attempts: int = Field(default=5, ge=1, le=100)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must be letters, digits, '_', '.', '-' (max 128), got {value!r}")
        return value


class WebhookTrigger(_Trigger):
    type: Literal["webhook"]
    token: str | None = None
    token_env: str | None = None
    signature: SignatureConfig = SignatureConfig()
    idempotency_header: str | None = None
    inputs: dict[str, InputMapping] = Field(default_factory=dict)
    callback: CallbackConfig | None = None

    @property
    def idempotency_header_name(self) -> str:
        if self.idempotency_header:
            return self.idempotency_header
        return "X-GitHub-Delivery" if self.signature.preset == "github" else "Idempotency-Key"


class ScheduleTrigger(_Trigger):
    type: Literal["schedule"]
    cron: str
    timezone: str = "UTC"
    missed: Literal["skip", "run_once"] = "skip"
    grace_seconds: int = Field(default=60, ge=1)
    inputs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"is not a valid cron expression: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"is not a known time zone: {value!r}") from exc
        return value


Trigger = Annotated[WebhookTrigger | ScheduleTrigger, Field(discriminator="type")]


class TriggersFile(_Model):
    triggers: list[Trigger]


class TriggersConfig:
    """A loaded config: triggers by id, with DSL paths resolved and secrets looked up."""

    def __init__(self, source: Path, parsed: TriggersFile, environ: Mapping[str, str]) -> None:
        self.source = source
        self.triggers: dict[str, WebhookTrigger | ScheduleTrigger] = {}
        self._secrets: dict[str, str] = {}
        self._callback_secrets: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        for index, trigger in enumerate(parsed.triggers):
            where = f"{source}: triggers[{index}] ({trigger.id})"
            if trigger.id in self.triggers:
                raise TriggerConfigError(f"{where}: id {trigger.id!r} is used twice")
            workflow = trigger.workflow
            if not workflow.is_absolute():
                workflow = (source.parent / workflow).resolve()
            if not workflow.is_file():
                raise TriggerConfigError(f"{where}: workflow file {workflow} does not exist")
            trigger = trigger.model_copy(update={"workflow": workflow})
            self.triggers[trigger.id] = trigger
            if isinstance(trigger, WebhookTrigger):
                self._add_webhook(where, trigger, environ)

    def _add_webhook(self, where: str, trigger: WebhookTrigger, env: Mapping[str, str]) -> None:
        sig = trigger.signature
        secret = _secret(f"{where}: signature", sig.secret, sig.secret_env, env)
        if sig.preset != "none":
            if not secret:
                raise TriggerConfigError(
                    f"{where}: signature.secret_env (or secret) is required for preset "
                    f"{sig.preset!r}; set preset: none to accept unsigned deliveries"
                )
            self._secrets[trigger.id] = secret
        if trigger.callback is not None:
            cb = trigger.callback
            self._callback_secrets[trigger.id] = (
                _secret(f"{where}: callback", cb.secret, cb.secret_env, env) or secret or ""
            )
        token = _secret(f"{where}: token", trigger.token, trigger.token_env, env)
        if token is None:
            if not secret:
                raise TriggerConfigError(
                    f"{where}: an unsigned webhook needs token_env (or token): its URL must be "
                    "unguessable"
                )
            # Derived from the secret: stable across restarts, unguessable without the secret.
            digest = hmac.new(secret.encode(), f"url:{trigger.id}".encode(), hashlib.sha256)
            token = digest.hexdigest()[:32]
        if len(token) < 16:
            raise TriggerConfigError(f"{where}: token must be at least 16 characters")
        self._tokens[trigger.id] = token

    def secret(self, trigger_id: str) -> str | None:
        return self._secrets.get(trigger_id)

    def callback_secret(self, trigger_id: str) -> str:
        return self._callback_secrets.get(trigger_id, "")

    def token(self, trigger_id: str) -> str:
        return self._tokens[trigger_id]

    def webhook_path(self, trigger_id: str) -> str:
        return f"/hooks/{trigger_id}/{self._tokens[trigger_id]}"

    def webhook(self, trigger_id: str, token: str) -> WebhookTrigger | None:
        """The webhook trigger ``trigger_id`` if ``token`` is its token (constant-time)."""
        trigger = self.triggers.get(trigger_id)
        expected = self._tokens.get(trigger_id, "")
        if not hmac.compare_digest(token.encode(), expected.encode()):
            return None
        return trigger if isinstance(trigger, WebhookTrigger) else None

    def schedules(self) -> list[ScheduleTrigger]:
        return [t for t in self.triggers.values() if isinstance(t, ScheduleTrigger)]


def _secret(
    where: str, inline: str | None, env_name: str | None, environ: Mapping[str, str]
) -> str | None:
    if env_name:
        value = environ.get(env_name)
        if not value:
            raise TriggerConfigError(f"{where}: environment variable {env_name} is not set")
        return value
    return inline or None


def load_config(path: str | Path, environ: Mapping[str, str]) -> TriggersConfig:
    """Read and check a triggers file; errors name the file, the trigger and the field."""
    source = Path(path).resolve()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TriggerConfigError(f"{path}: cannot read the triggers file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TriggerConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        parsed = TriggersFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        raise TriggerConfigError(f"{path}: {place}: {first['msg']}") from exc
    return TriggersConfig(source, parsed, environ)
