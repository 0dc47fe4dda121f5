"""One boto3 session per process: a new session parses botocore's endpoint data and the service model
again (~0.1 s of CPU per client at each cold start; the Powertools SSM provider made one per container).
The secrets read through the shared SSM client stay cached per container, as before."""

from __future__ import annotations

from invoice_bridge import wiring
from invoice_bridge.adapters.aws import client, parameter_store_client, resource, single_attempt_client
from moto import mock_aws


def test_every_client_shares_the_session_that_parsed_botocore_data_once() -> None:
    with mock_aws():
        loaders = {id(c._loader) for c in (  # the loader caches what the session parsed
            client("s3"), client("sqs"), single_attempt_client("sesv2"), resource("dynamodb").meta.client,
            parameter_store_client(),
        )}
    assert len(loaders) == 1


def test_secrets_are_cached_per_container_over_the_one_ssm_client() -> None:
    with mock_aws():
        parameter_store_client().put_parameter(Name="/ib/key", Value="first", Type="SecureString")
        token = wiring.container.set("DispatchFunction/0")
        try:
            assert wiring.secret_parameter("/ib/key") == "first"
        finally:
            wiring.container.reset(token)
        parameter_store_client().put_parameter(Name="/ib/key", Value="second", Type="SecureString", Overwrite=True)
        token = wiring.container.set("TrackDeliveriesFunction/0")
        try:
            assert wiring.secret_parameter("/ib/key") == "second"  # not the other container's cached value
        finally:
            wiring.container.reset(token)
        token = wiring.container.set("DispatchFunction/0")
        try:
            assert wiring.secret_parameter("/ib/key") == "first"  # its own cache, for up to five minutes
        finally:
            wiring.container.reset(token)
        providers = list(wiring._parameter_providers.values())
    assert len(providers) == 2
    assert all(provider.client is providers[0].client for provider in providers)
