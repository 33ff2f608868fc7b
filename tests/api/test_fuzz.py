"""Property test of the whole API from its own OpenAPI document (schemathesis strategies):
whatever a client sends, the answer is never a server error, and every answer, an error too,
has the body its schema documents."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import response_schema_conformance

from flavum.api.app import create_app
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.node.conftest import make_config


def test_no_input_gives_a_server_error_or_an_undocumented_body(tmp_path):
    node = Node.open(make_config(tmp_path / "home"), pool=InlineProverPool())
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(node))
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 20
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
            def check(case):  # type: ignore[no-untyped-def]
                response = case.call()
                assert response.status_code < 500, (case.method, case.path, response.text)
                case.validate_response(response, checks=[response_schema_conformance])

            check()
    finally:
        node.close()
