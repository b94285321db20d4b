//! One presented admin token checked against the configured one, a wrong one charged to its
//! client: what the API's guard and the console's sign-in form share.

use std::net::IpAddr;

use super::failures::Failures;
use super::token::AdminToken;
use crate::error::OpsError;

/// Checks `token` from `client` against the admin token, charging a wrong one to the client's
/// budget: the API's guard and the console's sign-in form share it, so a guesser gains
/// nothing by switching between them.
pub(crate) fn check(
    admin: &AdminToken,
    failures: &Failures,
    client: IpAddr,
    path: &str,
    token: &str,
) -> Result<(), OpsError> {
    if !admin.configured() {
        return Err(OpsError::NotConfigured);
    }
    if let Some(wait) = failures.blocked(client) {
        let error = OpsError::TooManyFailures {
            retry_after_secs: tributary_gateway::retry_after_secs(wait),
        };
        failures.log(client, path, &error, true);
        return Err(error);
    }
    admin.check(token).map_err(|error| {
        let limited = failures.charge(client);
        failures.log(client, path, &error, limited.is_some());
        match limited {
            Some(wait) => OpsError::TooManyFailures {
                retry_after_secs: tributary_gateway::retry_after_secs(wait),
            },
            None => error,
        }
    })
}
