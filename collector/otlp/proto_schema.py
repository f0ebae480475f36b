""".proto text of an OTLP message, rendered from the installed ``opentelemetry-proto`` descriptors.

ClickHouse's ``Protobuf`` input format needs the schema as ``.proto`` source
(``format_schema_source = 'string'``); the Python package ships only the compiled descriptors.
Rendering them keeps the schema ClickHouse parses with identical to the one the receiver
validated the request with, whatever ``opentelemetry-proto`` version is installed. Every message
the root refers to goes into one file without a package (OTLP's message names are unique), with
nested messages and enums kept nested.
"""

from __future__ import annotations

import functools

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

_SCALARS = {
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    FieldDescriptor.TYPE_SFIXED64: "sfixed64",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
}


def _outermost(message: Descriptor) -> Descriptor:
    while message.containing_type is not None:
        message = message.containing_type
    return message


def _local_name(descriptor: Descriptor | EnumDescriptor) -> str:
    """``Span.Event`` for a nested type: its name relative to the (package-less) file."""
    parts = [descriptor.name]
    parent = descriptor.containing_type
    while parent is not None:
        parts.append(parent.name)
        parent = parent.containing_type
    return ".".join(reversed(parts))


def _type_name(field: FieldDescriptor) -> str:
    if field.message_type is not None:
        return _local_name(field.message_type)
    if field.enum_type is not None:
        return _local_name(field.enum_type)
    return _SCALARS[field.type]


def _referenced(root: Descriptor) -> list[Descriptor]:
    """Outermost messages reachable from ``root``, in first-reference order."""
    found: dict[str, Descriptor] = {}

    def visit(message: Descriptor) -> None:
        top = _outermost(message)
        if top.full_name in found:
            return
        found[top.full_name] = top
        walk(top)

    def walk(message: Descriptor) -> None:
        for field in message.fields:
            if field.message_type is not None:
                visit(field.message_type)
        for nested in message.nested_types:
            walk(nested)

    visit(root)
    return list(found.values())


def _message_lines(message: Descriptor, indent: str) -> list[str]:
    lines = [f"{indent}message {message.name} {{"]
    for enum in message.enum_types:
        lines.append(f"{indent}  enum {enum.name} {{")
        lines.extend(f"{indent}    {value.name} = {value.number};" for value in enum.values)
        lines.append(f"{indent}  }}")
    for nested in message.nested_types:
        lines.extend(_message_lines(nested, indent + "  "))
    rendered_oneofs: set[str] = set()
    for field in message.fields:
        oneof = field.containing_oneof
        if oneof is not None and not oneof.name.startswith("_"):  # "_x": proto3 `optional`
            if oneof.name not in rendered_oneofs:
                rendered_oneofs.add(oneof.name)
                lines.append(f"{indent}  oneof {oneof.name} {{")
                lines.extend(
                    f"{indent}    {_type_name(member)} {member.name} = {member.number};"
                    for member in oneof.fields
                )
                lines.append(f"{indent}  }}")
            continue
        label = "repeated " if field.is_repeated else "optional " if oneof is not None else ""
        lines.append(f"{indent}  {label}{_type_name(field)} {field.name} = {field.number};")
    lines.append(f"{indent}}}")
    return lines


@functools.cache
def render_proto(root: Descriptor) -> str:
    """proto3 source declaring ``root`` and every message it refers to."""
    lines = ['syntax = "proto3";']
    for message in _referenced(root):
        lines.extend(_message_lines(message, ""))
    return "\n".join(lines) + "\n"
