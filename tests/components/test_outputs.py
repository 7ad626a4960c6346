"""json_document: the same JSON text as ``Output.json_dumps`` with one Output, or none."""

from __future__ import annotations

import json

import pulumi

from components.outputs import json_document

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"],
                                               "Resource": ["arn:aws:s3:::b/*"], "Condition": None}]}


def test_a_document_without_outputs_is_plain_text() -> None:
    assert json_document(DOC) == json.dumps(DOC)


@pulumi.runtime.test
def test_outputs_are_filled_in_place_as_output_json_dumps_would() -> None:
    arn, key = pulumi.Output.from_input("arn:aws:s3:::b"), pulumi.Output.from_input("k")
    doc = {"Statement": [{"Resource": [arn, "x"], "Key": key, "Nested": {"List": [key, arn], "N": 1.5}}],
           "Tuple": ("a", arn)}
    ours, theirs = json_document(doc), pulumi.Output.json_dumps(doc)

    def same(texts: list[str]) -> None:
        assert texts[0] == texts[1]
        assert json.loads(texts[0])["Statement"][0]["Nested"]["List"] == ["k", "arn:aws:s3:::b"]

    return pulumi.Output.all(ours, theirs).apply(same)


@pulumi.runtime.test
def test_a_secret_output_makes_the_document_secret() -> None:
    document = json_document({"Token": pulumi.Output.secret("s3cr3t"), "Plain": "x"})
    assert isinstance(document, pulumi.Output)

    async def check() -> None:
        assert await document.is_secret()

    return pulumi.Output.from_input(check())


@pulumi.runtime.test
def test_an_unknown_output_makes_the_document_unknown() -> None:
    unknown = pulumi.Output(set(), pulumi.Output.from_input("x").future(), is_known=_known(False))
    document = json_document({"Arn": unknown})

    async def check() -> None:
        assert not await document.is_known()

    return pulumi.Output.from_input(check())


async def _known(value: bool) -> bool:
    return value
