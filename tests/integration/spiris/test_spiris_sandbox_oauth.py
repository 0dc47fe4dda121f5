"""The sandbox identity server over real HTTP: authorize pages, PKCE, code replay, rotation, revocation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest
from spiris_sandbox_flow import (
    REDIRECT_URI,
    authorize_query,
    connect,
    exchange,
    hidden_session,
    pkce_pair,
    refresh,
    run_consent,
    seed,
)

from sandbox.spiris import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SpirisSandboxConfig, serve


@pytest.fixture()
def sandbox() -> Iterator[httpx.Client]:
    server, base_url = serve()
    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=10) as client:
        yield client
    server.shutdown()


def companysettings(client: httpx.Client, access_token: str) -> httpx.Response:
    return client.get("/v2/companysettings", headers={"Authorization": f"Bearer {access_token}"})


def test_full_flow_picker_approve_and_jwt_claims(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    verifier, challenge = pkce_pair()
    query = run_consent(sandbox, seeded, challenge=challenge)
    assert query["state"] == ["st-1"]
    assert query["iss"] == [str(sandbox.base_url).rstrip("/")]
    tokens = exchange(sandbox, query["code"][0], verifier).json()
    assert tokens["token_type"].lower() == "bearer" and tokens["expires_in"] == 3600
    assert tokens["refresh_token"]
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["customer_id"] == seeded.company_id
    assert claims["client_id"] == DEFAULT_CLIENT_ID
    assert claims["email"] == seeded.email
    assert "ea:api" in claims["scope"] and isinstance(claims["scope"], list)
    assert claims["exp"] - claims["nbf"] == 3600
    settings = companysettings(sandbox, tokens["access_token"])
    assert settings.status_code == 200
    assert settings.json()["CorporateIdentityNumber"] == "556123-4567"


def test_default_company_trap_skips_picker_without_select_account(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox, default_company=True)
    page = sandbox.get(authorize_query(prompt=None))
    page = sandbox.post("/connect/authorize/login", data={
        "session": hidden_session(page.text), "email": seeded.email, "password": seeded.password})
    assert 'name="company"' not in page.text  # no picker: straight to consent for the default company
    assert "Andra Bolaget AB" in page.text
    back = sandbox.post("/connect/authorize/consent", data={"session": hidden_session(page.text),
                                                            "decision": "approve"})
    code = back.headers["location"].split("code=")[1].split("&")[0]
    tokens = exchange(sandbox, code).json()
    assert jwt.decode(tokens["access_token"], options={"verify_signature": False})["customer_id"] == \
        seeded.other_company_id


def test_select_account_always_shows_picker_even_with_default_company(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox, default_company=True)
    page = sandbox.get(authorize_query(prompt="login select_account"))
    page = sandbox.post("/connect/authorize/login", data={
        "session": hidden_session(page.text), "email": seeded.email, "password": seeded.password})
    assert 'name="company"' in page.text and "Exempelbolaget AB" in page.text


def test_wrong_password_stays_on_login(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    page = sandbox.get(authorize_query())
    page = sandbox.post("/connect/authorize/login", data={
        "session": hidden_session(page.text), "email": seeded.email, "password": "nope"})
    assert page.status_code == 401 and "Wrong email or password" in page.text and "nope" not in page.text


def test_deny_redirects_with_access_denied(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    query = run_consent(sandbox, seeded, decision="deny")
    assert query["error"] == ["access_denied"] and query["state"] == ["st-1"] and "code" not in query
    assert "iss" in query


def test_authorize_validation(sandbox: httpx.Client) -> None:
    assert sandbox.get("/connect/authorize?client_id=nobody&redirect_uri=" + REDIRECT_URI
                       + "&response_type=code&scope=ea:api").status_code == 400
    bad_scope = sandbox.get(authorize_query().replace("scope=ea%3Aapi+", "scope="))
    assert bad_scope.status_code == 302 and "error=invalid_scope" in bad_scope.headers["location"]
    bad_type = sandbox.get(authorize_query().replace("response_type=code", "response_type=token"))
    assert "error=unsupported_response_type" in bad_type.headers["location"]


def test_pkce_wrong_verifier_and_code_single_use(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    verifier, challenge = pkce_pair()
    code = run_consent(sandbox, seeded, challenge=challenge)["code"][0]
    wrong = exchange(sandbox, code, "x" * 50)
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_grant"}
    # The failed attempt used the code up.
    assert exchange(sandbox, code, verifier).json() == {"error": "invalid_grant"}


def test_missing_verifier_is_refused_and_plain_method_works(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    _verifier, challenge = pkce_pair()
    code = run_consent(sandbox, seeded, challenge=challenge)["code"][0]
    assert exchange(sandbox, code).json() == {"error": "invalid_grant"}
    page = sandbox.get(authorize_query(challenge="plain-verifier-" + "a" * 40, method="plain"))
    assert page.status_code == 200


def test_code_replay_revokes_tokens_issued_from_it(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    verifier, challenge = pkce_pair()
    code = run_consent(sandbox, seeded, challenge=challenge)["code"][0]
    tokens = exchange(sandbox, code, verifier).json()
    assert companysettings(sandbox, tokens["access_token"]).status_code == 200
    assert exchange(sandbox, code, verifier).json() == {"error": "invalid_grant"}
    revoked = companysettings(sandbox, tokens["access_token"])
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["www-authenticate"]
    assert refresh(sandbox, tokens["refresh_token"]).json() == {"error": "invalid_grant"}


def test_refresh_rotation_and_reuse_revokes_family(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    first = connect(sandbox, seeded)
    second = refresh(sandbox, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    third = refresh(sandbox, second["refresh_token"]).json()
    assert companysettings(sandbox, third["access_token"]).status_code == 200
    reuse = refresh(sandbox, first["refresh_token"])  # rotated out long ago
    assert reuse.status_code == 400 and reuse.json() == {"error": "invalid_grant"}
    # The whole family is gone: the newest refresh token and access token too.
    assert refresh(sandbox, third["refresh_token"]).json() == {"error": "invalid_grant"}
    assert companysettings(sandbox, third["access_token"]).status_code == 401
    assert sandbox.get("/_sandbox/stats").json()["refresh_token_reuse"] == 1


def test_other_families_survive_a_reuse(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    victim, bystander = connect(sandbox, seeded), connect(sandbox, seeded)
    refresh(sandbox, victim["refresh_token"])
    refresh(sandbox, victim["refresh_token"])
    assert refresh(sandbox, bystander["refresh_token"]).status_code == 200


def test_reusable_mode_returns_same_refresh_token() -> None:
    server, base_url = serve(config=SpirisSandboxConfig(refresh_token_mode="reusable"))
    try:
        with httpx.Client(base_url=base_url) as client:
            seeded = seed(client)
            tokens = connect(client, seeded)
            for _ in range(3):
                again = refresh(client, tokens["refresh_token"]).json()
                assert again["refresh_token"] == tokens["refresh_token"]
            assert client.get("/_sandbox/stats").json()["refresh_token_reuse"] == 0
    finally:
        server.shutdown()


def test_client_secret_post_and_bad_client(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    tokens = connect(sandbox, seeded)
    posted = sandbox.post("/connect/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET})
    assert posted.status_code == 200
    bad = sandbox.post("/connect/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                       auth=(DEFAULT_CLIENT_ID, "wrong"))
    assert bad.status_code == 401 and bad.json() == {"error": "invalid_client"}


def test_revocation_kills_the_family(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    tokens = connect(sandbox, seeded)
    revoked = sandbox.post("/connect/revocation", data={
        "token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
    assert revoked.status_code == 200 and revoked.content == b""
    assert refresh(sandbox, tokens["refresh_token"]).json() == {"error": "invalid_grant"}
    assert companysettings(sandbox, tokens["access_token"]).status_code == 401


def test_revoke_all_is_a_password_change(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    tokens = connect(sandbox, seeded)
    assert sandbox.post("/_sandbox/faults", json={"revoke_all": True}).status_code == 204
    assert refresh(sandbox, tokens["refresh_token"]).json() == {"error": "invalid_grant"}
    assert connect(sandbox, seeded)["access_token"]  # a new consent works again


def test_module_missing_and_user_without_access() -> None:
    server, base_url = serve()
    try:
        with httpx.Client(base_url=base_url) as client:
            seeded = seed(client, api_module=False)
            response = companysettings(client, connect(client, seeded)["access_token"])
            assert response.status_code == 403
            assert response.json()["ErrorCode"] == 4002
            assert response.json()["DeveloperErrorMessage"].endswith("No access to module: api_standard")
            client.post("/_sandbox/reset")
            seeded = seed(client, full_access=False)
            response = companysettings(client, connect(client, seeded)["access_token"])
            assert response.status_code == 403 and response.json()["ErrorCode"] == 4011
    finally:
        server.shutdown()


def test_expired_access_token_gets_401() -> None:
    server, base_url = serve(config=SpirisSandboxConfig(access_token_lifetime_seconds=-1))
    try:
        with httpx.Client(base_url=base_url) as client:
            tokens = connect(client, seed(client))
            response = companysettings(client, tokens["access_token"])
            assert response.status_code == 401 and "invalid_token" in response.headers["www-authenticate"]
    finally:
        server.shutdown()


def test_no_secret_reaches_the_logs(sandbox: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    """The sandbox's own access log (the test client's httpx/httpcore debug lines are not the sandbox's)."""
    caplog.set_level("DEBUG", logger="werkzeug")
    seeded = seed(sandbox)
    verifier, challenge = pkce_pair()
    query = run_consent(sandbox, seeded, challenge=challenge)
    tokens = exchange(sandbox, query["code"][0], verifier).json()
    rotated = refresh(sandbox, tokens["refresh_token"]).json()
    refresh(sandbox, tokens["refresh_token"])  # reuse, logged as a 400
    companysettings(sandbox, rotated["access_token"])
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "POST /connect/token" in logged  # the access log is there ...
    for secret in (query["code"][0], query["state"][0], verifier, challenge, tokens["access_token"],
                   tokens["refresh_token"], rotated["refresh_token"], seeded.password, DEFAULT_CLIENT_SECRET):
        assert secret not in logged  # ... without any of these


def test_concurrent_refreshers_with_one_token_trip_reuse_detection(sandbox: httpx.Client) -> None:
    """Why the token refresher must be single: 10 racing refreshes of one token kill the grant."""
    from concurrent.futures import ThreadPoolExecutor

    seeded = seed(sandbox)
    tokens = connect(sandbox, seeded)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: refresh(sandbox, tokens["refresh_token"]), range(10)))
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) == 1
    assert all(r.json() == {"error": "invalid_grant"} for r in results if r.status_code != 200)
    assert sandbox.get("/_sandbox/stats").json()["refresh_token_reuse"] == 9
    assert refresh(sandbox, winners[0].json()["refresh_token"]).json() == {"error": "invalid_grant"}


@pytest.mark.parametrize("written", ["212000-0555", "2120000555", "SE212000055501", "SE 212000-0555 01"])
def test_organisation_numbers_are_taken_the_usual_ways_and_served_as_spiris_does(
    sandbox: httpx.Client, written: str
) -> None:
    from spiris_sandbox_flow import Seed

    created = sandbox.post(
        "/_sandbox/companies", json={"name": "Sandbox AB", "corporate_identity_number": written, "modules": {"api": True}}
    )
    assert created.status_code == 201, created.text
    company_id = created.json()["id"]
    user = {"email": "org@example.se", "password": "pw", "companies": [company_id], "full_access": True}
    assert sandbox.post("/_sandbox/users", json=user).status_code == 201
    tokens = connect(sandbox, Seed(company_id, company_id, email="org@example.se", password="pw"))

    settings = companysettings(sandbox, tokens["access_token"]).json()
    assert settings["CorporateIdentityNumber"] == "212000-0555"  # one form, as in Spiris' own sample
    assert settings["VatCode"] == "SE212000055501"
    # A control route finds the company by its organisation number in any usual form, too.
    for form in ("212000-0555", "2120000555", "SE212000055501"):
        assert sandbox.patch(f"/_sandbox/companies/{form}", json={"name": "Sandbox AB"}).json()["id"] == company_id


def test_a_number_that_is_not_an_organisation_number_is_refused(sandbox: httpx.Client) -> None:
    for wrong in ("212000-0556", "21200005", "SE212000055599", "not a number"):
        answer = sandbox.post(
            "/_sandbox/companies", json={"name": "X AB", "corporate_identity_number": wrong, "modules": {"api": True}}
        )
        assert answer.status_code == 400 and "organisation number" in answer.json()["error"]
