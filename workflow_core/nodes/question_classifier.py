"""question-classifier: asks the model for a category; the class id is the branch handle
(SPEC §7.12)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.nodes.llm_prompt import MemoryConfig, ModelConfig, first_json, history_messages
from workflow_core.providers.base import ChatMessage, LLMRequest
from workflow_core.variables import to_text

if TYPE_CHECKING:
    from workflow_core.context import RunContext

SYSTEM_PROMPT = """You are a text classification engine. Classify the user's input into exactly \
one of the categories below and answer with one JSON object \
{{"category_id": "...", "category_name": "..."}} and nothing else.
<categories>
{categories}
</categories>
{instruction}"""


class ClassSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str = ""


class ClassifierData(NodeData):
    query_variable_selector: list[str] = Field(min_length=2)
    model: ModelConfig
    classes: list[ClassSpec] = Field(min_length=1)
    instruction: str = ""
    memory: MemoryConfig | None = None


@register("question-classifier")
class QuestionClassifierNode(Node[ClassifierData]):
    data_model = ClassifierData

    def run(self, ctx: RunContext) -> NodeOutcome:
        query = to_text(ctx.get(self.config.query_variable_selector))
        classes = [(c.id, ctx.render(c.name)) for c in self.config.classes]
        categories = json.dumps(
            [{"category_id": cid, "category_name": name} for cid, name in classes],
            ensure_ascii=False,
        )
        instruction = ctx.render(self.config.instruction)
        messages = [
            ChatMessage(
                role="system",
                content=SYSTEM_PROMPT.format(categories=categories, instruction=instruction),
            ),
            *history_messages(ctx, self.config.memory),
            ChatMessage(role="user", content=query),
        ]
        response = ctx.invoke_llm(
            LLMRequest(
                model=self.config.model.name,
                provider=self.config.model.provider,
                messages=tuple(messages),
                parameters=dict(self.config.model.completion_params),
                response_format="json",
                node_id=self.id,
                node_type=self.type,
            )
        )
        answer = first_json(response.text)
        if not isinstance(answer, dict):
            raise self.node_error(
                f"the model did not answer with a JSON object: {response.text[:200]!r}"
            )
        chosen = classes[0]
        if "category_id" in answer and "category_name" in answer:
            chosen = next((c for c in classes if c[0] == str(answer["category_id"])), chosen)
        usage = {"prompt_tokens": response.usage.input_tokens,
                 "completion_tokens": response.usage.output_tokens}  # fmt: skip
        return NodeOutcome(
            outputs={"class_name": chosen[1], "class_id": chosen[0], "usage": usage},
            handle=chosen[0],
            inputs={"query": query},
        )
