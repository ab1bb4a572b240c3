"""The loader of a merchant's monthly data export (pure Python): every
attested input against small examples worked out by hand (and the
volatility against an independent high-precision computation), every
kind of bad data as a one-line error naming the file and the row, and the
sample files under docs/samples scoring to the grades the README claims."""

import re
from decimal import Decimal, localcontext
from fractions import Fraction
from math import floor
from pathlib import Path

import pytest
from eth_utils import keccak

from ape_pst_plugin import merchant_data as md
from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.exceptions import BadMerchantData, PstError

ROOT = Path(__file__).resolve().parent.parent
HEADER = "month,gross,refunds,orders,top_channel_share"

# Six months; the nets (gross - refunds) are 1000, 1000, 900, 1100, 900, 1200.
EXAMPLE = [
    ("2023-11", "1000.00", "0", 10, "0.5"),
    ("2023-12", "1200.00", "200.00", 12, "0.25"),
    ("2024-01", "1000", "100.00", 9, "0.1"),
    ("2024-02", "1100.00", "0.00", 11, "0.2"),
    ("2024-03", "900.00", "0", 8, "0.3"),
    ("2024-04", "1300.00", "100.00", 13, "0.4"),
]


def csv_text(rows) -> str:
    return "\n".join([HEADER, *(",".join(str(cell) for cell in row) for row in rows)]) + "\n"


def write(tmp_path, rows, name="data.csv") -> Path:
    path = tmp_path / name
    path.write_text(csv_text(rows))
    return path


def relabel(rows, start=(2023, 11)):
    """The same rows under consecutive months from ``start``."""
    year, month = start
    out = []
    for row in rows:
        out.append((f"{year:04d}-{month:02d}", *row[1:]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def cv_bps(nets) -> int:
    """floor(10_000 * population std / mean), with 80-digit decimal arithmetic."""
    n = len(nets)
    mean = Fraction(sum(nets), n)
    variance = sum((Fraction(x) - mean) ** 2 for x in nets) / n
    with localcontext() as ctx:
        ctx.prec = 80
        sd = (Decimal(variance.numerator) / Decimal(variance.denominator)).sqrt()
        return floor(Decimal(10_000) * sd / (Decimal(mean.numerator) / Decimal(mean.denominator)))


# --- the inputs, worked out by hand ----------------------------------------------------------


def test_each_input_of_a_small_example(tmp_path):
    inputs = md.load(write(tmp_path, EXAMPLE), 2).inputs  # cents
    assert inputs.history_months == 6
    # R: the last 3 nets 1100 + 900 + 1200 = 3200; 3200 / 3 = 1066.666... -> 106666 cents
    assert inputs.avg_monthly_revenue == 106_666
    # the last month: 1300 - 100
    assert inputs.month_revenue == 120_000
    # sum x = 6100, sum x^2 = 6_270_000: 6 * 6_270_000 - 6100^2 = 410_000; sqrt = 640.312...;
    # 10_000 * 640.312 / 6100 = 1049.69 -> 1049
    assert inputs.volatility_bps == 1049 == cv_bps([1000, 1000, 900, 1100, 900, 1200])
    # (3200 - 2900) / 2900 = 0.103448... -> 1034 bps
    assert inputs.growth_bps == 1034
    # refunds 400 of gross 6500 = 0.061538... -> 615 bps
    assert inputs.refund_bps == 615
    # 1000*0.5 + 1200*0.25 + 1000*0.1 + 1100*0.2 + 900*0.3 + 1300*0.4 = 1910; 1910 / 6500 = 0.293846 -> 2938
    assert inputs.top_channel_bps == 2938


def test_a_shrinking_merchant_rounds_growth_down_towards_minus_infinity(tmp_path):
    inputs = md.load(write(tmp_path, relabel(EXAMPLE[::-1])), 2).inputs
    # nets 1200, 900, 1100 | 900, 1000, 1000: (2900 - 3200) / 3200 = -0.09375 -> -937.5 bps -> -938
    assert inputs.growth_bps == -938
    # 2900 / 3 = 966.666... -> 96666 cents; the last month is the first row of EXAMPLE
    assert inputs.avg_monthly_revenue == 96_666 and inputs.month_revenue == 100_000


def test_an_exact_volatility(tmp_path):
    # nets 90, 110, 90, 110, 90, 110: mean 100, population std 10: CV exactly 10% = 1000 bps
    rows = relabel([("", gross, "0", 1, "0.1") for gross in ("90", "110") * 3])
    assert md.load(write(tmp_path, rows), 6).inputs.volatility_bps == 1000


def test_volatility_is_rounded_once_whatever_the_decimals(tmp_path):
    # nets 1, 1, 1, 1, 1, 2: mean 7/6, variance 9/6 - 49/36 = 5/36, CV = sqrt(5) / 7 = 0.31943 -> 3194 bps,
    # also with 0 decimals (rounding the square root first would give 2 * 10_000 // 7 = 2857)
    rows = relabel([("", gross, "0", 1, "0") for gross in "111112"])
    for decimals in (0, 6, 18):
        assert md.load(write(tmp_path, rows), decimals).inputs.volatility_bps == 3194 == cv_bps([1, 1, 1, 1, 1, 2])


def test_older_months_count_as_history_only(tmp_path):
    older = [("", "5000000", "4000000", 1, "1"), ("", "1", "0", 1, "0")]
    longer = md.load(write(tmp_path, relabel(older + EXAMPLE, (2023, 9))), 2).inputs
    assert longer.history_months == 8
    assert {**vars(longer), "history_months": 6} == vars(md.load(write(tmp_path, EXAMPLE, "six.csv"), 2).inputs)


def test_the_decimals_scale_money_and_nothing_else(tmp_path):
    cents = md.load(write(tmp_path, EXAMPLE), 2).inputs
    micro = md.load(write(tmp_path, EXAMPLE), 6).inputs
    # R = floor(3200 * 10**6 / 3): more precision, not just cents * 10**4
    assert micro.avg_monthly_revenue == 1_066_666_666
    assert micro.month_revenue == cents.month_revenue * 10**4
    for field in ("volatility_bps", "growth_bps", "refund_bps", "top_channel_bps"):
        assert getattr(micro, field) == getattr(cents, field), field


def test_json_and_csv_of_the_same_months_agree_and_json_numbers_are_exact(tmp_path):
    # gross as JSON numbers (1000.00, 1200.00, ...), the rest as strings and integers
    entries = [
        f'{{"month": "{m}", "gross": {g}, "refunds": "{r}", "orders": {o}, "top_channel_share": "{s}"}}'
        for m, g, r, o, s in EXAMPLE
    ]
    path = tmp_path / "data.json"
    path.write_text("[" + ",\n".join(entries) + "]")
    assert md.load(path, 2).inputs == md.load(write(tmp_path, EXAMPLE), 2).inputs
    # read as a float 1300.10 would not be exact; read exactly it is 130010 cents
    path.write_text(path.read_text().replace('"gross": 1300.00', '"gross": 1300.10'))
    assert md.load(path, 2).months[-1].gross == 130_010


def test_extra_columns_any_order_and_a_byte_order_mark_are_fine(tmp_path):
    path = tmp_path / "export.csv"
    lines = ["\ufeffnote,top_channel_share,orders,refunds,gross,month"]
    lines += [f"x,{s},{o},{r},{g},{m}" for m, g, r, o, s in EXAMPLE]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert md.load(path, 2).inputs == md.load(write(tmp_path, EXAMPLE), 2).inputs


def test_evidence_hash_is_the_keccak_of_the_file_bytes(tmp_path):
    path = write(tmp_path, EXAMPLE)
    assert md.load(path, 2).evidence_hash == keccak(path.read_bytes())
    path.write_text(csv_text(EXAMPLE) + "\n")  # a blank line: same months, other bytes
    again = md.load(path, 2)
    assert (
        again.evidence_hash == keccak(path.read_bytes())
        and again.inputs == md.load(write(tmp_path, EXAMPLE, "b.csv"), 2).inputs
    )
    assert len(again.evidence_hash) == 32


def test_merchant_id_by_default_and_from_text():
    merchant = "0x" + "ab" * 20
    assert md.merchant_id(merchant) == keccak(b"\xab" * 20)
    assert md.merchant_id(merchant, "shop-42") == keccak(b"shop-42")


# --- bad data: one line naming the file and the row ------------------------------------------


def with_row(index, row):
    rows = list(EXAMPLE)
    rows[index] = row
    return rows


BAD = [
    (
        "gap",
        EXAMPLE[:3] + EXAMPLE[4:] + [("2024-05", "1", "0", 1, "0")],
        "line 5: 1 month missing between 2024-01 (line 4) and 2024-03",
    ),
    ("duplicate", EXAMPLE[:3] + [EXAMPLE[2]] + EXAMPLE[3:], "line 5: month 2024-01 again (also on line 4)"),
    ("unsorted", [EXAMPLE[1], EXAMPLE[0], *EXAMPLE[2:]], "line 3: month 2023-11 comes after 2023-12 (line 2)"),
    ("negative gross", with_row(2, ("2024-01", "-5", "0", 1, "0.1")), "line 4 (2024-01): gross -5 is negative"),
    ("negative refunds", with_row(2, ("2024-01", "5", "-1.5", 1, "0.1")), "line 4 (2024-01): refunds -1.5 is negative"),
    (
        "refunds above gross",
        with_row(3, ("2024-02", "100", "100.01", 1, "0.1")),
        "line 5 (2024-02): refunds 100.01 are above gross 100",
    ),
    (
        "gross without orders",
        with_row(4, ("2024-03", "900.00", "0", 0, "0.3")),
        "line 6 (2024-03): gross 900.00 with zero orders",
    ),
    ("fewer than 6 months", EXAMPLE[:5], "5 months of data: at least 6 are needed"),
    (
        "thousands separator",
        with_row(0, ("2023-11", '"1,000.00"', "0", 1, "0.5")),
        "line 2 (2023-11): gross '1,000.00' is not a number",
    ),
    (
        "not a number",
        with_row(1, ("2023-12", "1200", "lots", 1, "0.5")),
        "line 3 (2023-12): refunds 'lots' is not a number",
    ),
    (
        "too precise",
        with_row(5, ("2024-04", "1300.001", "0", 1, "0.5")),
        "line 7 (2024-04): gross 1300.001 has more than 2 decimals",
    ),
    (
        "orders not whole",
        with_row(5, ("2024-04", "1300", "0", "3.5", "0.5")),
        "line 7 (2024-04): orders '3.5' is not a whole number",
    ),
    (
        "share over 1",
        with_row(5, ("2024-04", "1300", "0", 3, "35")),
        "line 7 (2024-04): top_channel_share 35 is not a fraction from 0 to 1",
    ),
    ("not a month", with_row(0, ("2023-13", "1", "0", 1, "0")), "line 2: month '2023-13' is not a calendar month"),
    ("empty cell", with_row(1, ("2023-12", "", "0", 1, "0")), "line 3: no value for gross"),
    ("no sales in the window", relabel([("", "0", "0", 0, "0")] * 6), "lines 2-7 (2023-11 to 2024-04): no gross sales"),
    (
        "no prior revenue",
        relabel([("", "0", "0", 0, "0")] * 3 + [("", "100", "1", 1, "0.2")] * 3),
        "lines 2-4 (2023-11 to 2024-01): no net revenue in the prior 3 months",
    ),
]


@pytest.mark.parametrize("rows, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_data_is_one_line_naming_the_file_and_row(tmp_path, rows, message):
    path = write(tmp_path, rows)
    with pytest.raises(BadMerchantData) as error:
        md.load(path, 2)
    text = str(error.value)
    assert message in text and text.startswith(f"{path}: ") and "\n" not in text
    assert isinstance(error.value, PstError) and isinstance(error.value, ValueError)


def test_a_missing_column_names_the_header(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(csv_text(EXAMPLE).replace(",orders,", ",", 1))  # the header without orders
    with pytest.raises(BadMerchantData, match="line 1: missing column orders"):
        md.load(path, 2)


def test_refunds_over_the_gate_name_the_rows_of_the_window(tmp_path):
    # 15.00% of gross over the last 6 months passes; 901 of 6000 (15.01%) does not
    at_gate = relabel([("", "1000", "150", 1, "0.1")] * 6, (2024, 1))
    assert md.load(write(tmp_path, at_gate), 2).inputs.refund_bps == 1500
    over = at_gate[:-1] + [(at_gate[-1][0], "1000", "151", 1, "0.1")]
    older = relabel([("", "1000", "999", 1, "0.1")], (2023, 12))  # outside the window: not counted
    with pytest.raises(BadMerchantData, match=r"lines 3-8 \(2024-01 to 2024-06\): refunds are 15\.01% of gross"):
        md.load(write(tmp_path, older + over), 2)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        ('{"months": []}', "not a JSON array of months"),
        ('[{"month": "2024-01", "gross": "1"}]', "entry 1: missing refunds, orders, top_channel_share"),
        (
            '[{"month": "2024-01", "gross": 1, "refunds": 0, "orders": 2.0, "top_channel_share": 0}]',
            "entry 1 (2024-01): orders '2.0' is not a whole number",
        ),
        (
            '[{"month": "2024-01", "gross": true, "refunds": 0, "orders": 2, "top_channel_share": 0}]',
            "entry 1 (2024-01): gross true is not a number",
        ),
    ],
)
def test_bad_json_names_the_entry(tmp_path, text, message):
    path = tmp_path / "data.json"
    path.write_text(text)
    with pytest.raises(BadMerchantData, match=re.escape(message)):
        md.load(path, 6)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(BadMerchantData, match="cannot read .*nothing.csv"):
        md.load(tmp_path / "nothing.csv", 6)


# --- the samples score to the grades the README claims ---------------------------------------


def claimed_grades() -> dict[str, str]:
    """The README's table of sample files: path -> ``A``..``D``, ``none`` or ``rejected``."""
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `(docs/samples/[^`]+)` \|.*\| \*\*(A|B|C|D|none|rejected)\*\*", text, re.MULTILINE)
    return dict(rows)


def test_the_readme_lists_every_sample():
    claims = claimed_grades()
    assert set(claims) == {f"docs/samples/{p.name}" for p in (ROOT / "docs" / "samples").iterdir()}
    assert {"A", "rejected"} <= set(claims.values()) and set(claims.values()) & {"C", "D"}
    assert any(path.endswith(".json") for path in claims)


@pytest.mark.parametrize("sample", sorted(claimed_grades()))
def test_a_sample_scores_to_its_claimed_grade(sample):
    claimed = claimed_grades()[sample]
    if claimed == "rejected":
        with pytest.raises(BadMerchantData, match="over the model's 15.00% gate"):
            md.load(ROOT / sample, 6)
        return
    data = md.load(ROOT / sample, 6)
    assert uw.GRADES[uw.score(data.inputs, 6).grade] == claimed
    # the independent CV agrees on real data too
    assert data.inputs.volatility_bps == cv_bps([m.net for m in data.months[-6:]])
