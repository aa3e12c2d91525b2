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
