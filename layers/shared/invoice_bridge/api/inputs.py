"""The admin API's input models: strict (an unknown field is refused), and a PATCH model derived from the
domain's, so a field and its rules are stated once, in the domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model


class StrictInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


def patch_of(model: type[BaseModel], nested: Mapping[str, type[BaseModel]] | None = None) -> type[BaseModel]:
    """A base for the PATCH model of `model`: each of its fields, optional (left out: unchanged; null: as
    the route decides), with the field's constraints and description. `nested` names the fields whose
    value is patched in turn (by their own patch model). Unknown fields are refused."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if nested and name in nested:
            annotation: Any = nested[name] | None  # the nested patch model has the field's rules
        else:
            optional = info.annotation | None  # type: ignore[operator]  # a declared field always has an annotation
            annotation = Annotated[(optional, *info.metadata)] if info.metadata else optional
        fields[name] = (annotation, Field(default=None, description=info.description))
    return create_model(f"{model.__name__}Patch", __base__=StrictInput, **fields)
