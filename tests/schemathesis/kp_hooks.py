"""Generators for the string formats the API document names and schemathesis does not know."""
import schemathesis
from hypothesis import strategies as st


def _iban(country, bban):
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


# Valid IBANs (check digits included), so that providers really get created and the stateful
# phase can go on from them.
schemathesis.openapi.format("iban", st.one_of(
    st.builds(lambda bank, acct: _iban("NL", bank + acct),
              st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4),
              st.text("0123456789", min_size=10, max_size=10)),
    st.builds(_iban, st.sampled_from(["DE", "BE", "FR", "GB", "LU"]),
              st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=11, max_size=30)),
))


# A request that is valid against the document may still get 400 on a few operations, for the
# constraints a JSON schema cannot state (see schemathesis.toml, which lets 400 through for
# them). This check makes that allowance exact: such a 400 must carry one of the named codes
# (and, for the one code that is also used for malformed requests, its own sentence).
ALLOWED_400 = {
    "create_fund": {("invalid_period", None)},
    "create_household": {("invalid_birth_date", None)},
    "create_provider": {("invalid_iban", None)},
    "issue_voucher": {
        ("invalid_field", "Geef child_id óf household_id op."),
        ("child_id_required", None),
        ("household_id_required", None),
    },
    "list_ledger_entries": {("invalid_range", None)},
    "get_inclusion_proof": {("invalid_proof_request", None)},
    "get_consistency_proof": {("invalid_proof_request", None)},
}


@schemathesis.check
def a_400_for_valid_data_names_its_rule(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    op = case.operation.definition.raw.get("operationId")
    allowed = ALLOWED_400.get(op)
    if allowed is None:
        return None  # the built-in positive_data_acceptance check already refuses it
    try:
        error = response.json()["error"]
        code, message = error["code"], error["message"]
    except Exception as e:  # noqa: BLE001 - any body that is not our error shape fails
        raise AssertionError(f"400 without the error shape: {e}") from None
    if not any(code == c and (m is None or message == m) for c, m in allowed):
        raise AssertionError(
            f"{op} refused a request the document calls valid with 400 `{code}` ({message}); "
            f"only {sorted(c for c, _ in allowed)} are constraints the document cannot state"
        )
    return None
