"""The OpenAPI document says which operations need a bearer credential and which roles."""


def test_guarded_operations_declare_bearer_security_and_roles(client):
    spec = client.get("/api/openapi.json").json
    paths = spec["paths"]

    assert paths["/api/me"]["get"]["security"] == [{"BearerAuth": []}]
    assert paths["/api/tokens"]["post"]["security"] == [{"BearerAuth": []}]
    assert paths["/api/org/tokens"]["get"]["security"] == [{"BearerAuth": ["admin"]}]
    assert "401" in paths["/api/me"]["get"]["responses"]
    assert "security" not in paths["/api/csrf"]["get"]
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
