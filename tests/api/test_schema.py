"""schemathesis against /api on the running server: no server error, no response off its schema.

Run through schemathesis' own command line (its pytest plugin does not support pytest 9 yet),
with a bounded number of examples per operation, a fixed seed and no time deadline.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from geo_service.auth import create_key
from tests.utils.server import LiveServer

EXAMPLES = 10
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance",
])


def test_api_conforms_to_its_schema(module_server: LiveServer, module_db_url: str,
                                    tmp_path: Path) -> None:
    # With an admin key, so the write operations are exercised too (not only their 401).
    key = create_key(module_db_url, role="admin", layers=[], districts=[], organisation=None,
                     label="schemathesis").token
    st = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(st), "run", f"{module_server.url}/api", "--max-examples", str(EXAMPLES), "--seed", "1",
         "--header", f"Authorization: Bearer {key}",
         "--checks", CHECKS, "--request-timeout", "30", "--report", "junit",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    summary = result.stdout[-4000:]
    # Exit 0 means no check failed; warnings (e.g. "mostly rejected generated data": random
    # features are rightly refused) do not count as failures.
    assert result.returncode == 0, summary
    generated = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert generated and int(generated.group(1)) > 1000 and generated.group(1) == generated.group(2), summary


def test_schema_describes_each_layers_real_properties(module_server: LiveServer) -> None:
    doc = module_server.get("/api").json()
    assert doc["openapi"].startswith("3.0")
    props = doc["components"]["schemas"]["MeetingPlacesFeature"]["properties"]["properties"]
    assert props["additionalProperties"] is False
    assert props["properties"]["kind"]["enum"][0] == "Stadtteilbüro"
    assert props["properties"]["languages"]["type"] == "array"
    # Personal data is described (shown only with a recorded consent) but never queryable.
    assert props["properties"]["contact_person"]["nullable"] is True
    queryables = module_server.get("/collections/meeting_places/queryables").json()
    assert "contact_person" not in queryables["properties"]
    params = {p["name"] for p in doc["paths"]["/collections/offers/items"]["get"]["parameters"]}
    assert {"bbox", "limit", "datetime", "category", "filter", "crs"} <= params
