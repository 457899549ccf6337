"""Identifier validators (plain functions and WTForms wrappers); no Flask app needed."""

import pytest
from stdnum.cn import ric, uscc
from wtforms import Form, StringField
from wtforms.validators import ValidationError as WTFValidationError

from app import validators as v
from app.validators import ValidationError


def with_check(body):
    """Append the correct 身份证 check digit (ric.calc_check_digit ignores the last character)."""
    return body + ric.calc_check_digit(body + "0")


def test_validation_error_is_value_error():
    assert issubclass(ValidationError, ValueError)


# --- 统一社会信用代码 --------------------------------------------------------------------------

VALID_USCC = "91230199300887150" + uscc.calc_check_digit("91230199300887150")


def test_manual_credit_code_is_valid():
    # The code shown in the user manual happens to be well formed.
    assert v.validate_credit_code("9123019930088715XU") == "9123019930088715XU"


def test_credit_code_normalised():
    assert v.validate_credit_code(" " + VALID_USCC.lower() + " ") == VALID_USCC


@pytest.mark.parametrize(
    "code",
    [
        "9123019930088715XA",  # wrong check character
        "9123019930088715X",  # 17 chars
        "9123019930088715IU",  # I is not in the alphabet
        "",
        None,
    ],
)
def test_credit_code_invalid(code):
    with pytest.raises(ValidationError):
        v.validate_credit_code(code)


# --- 身份证号 -------------------------------------------------------------------------------

VALID_RIC = with_check("23010219900307123")


def test_id_number_valid():
    assert v.validate_id_number(VALID_RIC) == VALID_RIC
    assert v.validate_id_number("11010519491231002x") == "11010519491231002X"


def test_id_number_wrong_check_digit():
    wrong = VALID_RIC[:-1] + ("0" if VALID_RIC[-1] != "0" else "1")
    with pytest.raises(ValidationError):
        v.validate_id_number(wrong)


@pytest.mark.parametrize(
    "number",
    [
        with_check("23010219901307123"),  # month 13
        with_check("23010219900230123"),  # 30 February
        "2301021990030712",  # too short
        "",
    ],
)
def test_id_number_invalid(number):
    with pytest.raises(ValidationError):
        v.validate_id_number(number)


# --- mobile / email ------------------------------------------------------------------------


@pytest.mark.parametrize("mobile", ["13800138000", "19945678901", " 138 0013 8000 "])
def test_mobile_valid(mobile):
    assert v.validate_mobile(mobile) == mobile.replace(" ", "")


@pytest.mark.parametrize("mobile", ["12800138000", "1380013800", "138001380001", "0451-8888888", ""])
def test_mobile_invalid(mobile):
    with pytest.raises(ValidationError):
        v.validate_mobile(mobile)


def test_email():
    assert v.validate_email(" zhang@example.com ") == "zhang@example.com"
    for bad in ["zhang", "zhang@", "@example.com", ""]:
        with pytest.raises(ValidationError):
            v.validate_email(bad)


# --- 行政区划代码 ----------------------------------------------------------------------------


def test_region_code_shape_without_session():
    assert v.validate_region_code("230102") == "230102"
    assert v.validate_region_code("230102", level="county") == "230102"
    for bad in ["23010", "2301020", "23010A", ""]:
        with pytest.raises(ValidationError):
            v.validate_region_code(bad)
    with pytest.raises(ValidationError):
        v.validate_region_code("230100", level="county")


class _FakeSession:
    def __init__(self, regions):
        self.regions = regions

    def get(self, model, code):
        return self.regions.get(code)


class _R:
    def __init__(self, level):
        self.level = level


def test_region_code_with_session():
    session = _FakeSession({"230100": _R("city"), "232701": _R("county")})
    assert v.validate_region_code("232701", session=session, level="county") == "232701"
    with pytest.raises(ValidationError):
        v.validate_region_code("232723", session=session)  # 漠河县, replaced by 漠河市 232701 in 2018
    with pytest.raises(ValidationError):
        v.validate_region_code("230100", session=session, level="county")


# --- 项目代码 -------------------------------------------------------------------------------

KNOWN = {"230000", "230100", "230102", "232701"}.__contains__


def test_investment_project_code_shape():
    assert v.check_project_code("2408-230102-04-01-996708", known_region=KNOWN) == []
    # Without a region checker only the shape is checked.
    assert v.check_project_code("2408-232723-04-01-996708") == []


def test_manual_project_code_with_historical_region_warns():
    # The manual's example uses 232723 (the former 漠河县): shape OK, region unknown → one warning.
    warnings = v.check_project_code("2408-232723-04-01-996708", known_region=KNOWN)
    assert len(warnings) == 1


def test_project_code_bad_month_and_broken_shape_warn():
    assert len(v.check_project_code("2413-230102-04-01-996708", known_region=KNOWN)) == 1
    assert len(v.check_project_code("2408-230102-04-01-99670")) == 1


def test_project_code_full_width_is_recognised():
    assert v.check_project_code("２４０８－２３０１０２－０４－０１－９９６７０８", known_region=KNOWN) == []


@pytest.mark.parametrize(
    "code",
    [
        "GF-2017-0201",
        "ZCZB-B2312CG006",
        "SZSG0207G240918001001001",
        "[230127]FDGJCSJ20230003",
    ],
)
def test_contract_and_bid_codes_accepted(code):
    assert v.check_project_code(code, known_region=KNOWN) == []


@pytest.mark.parametrize("code", ["", "   ", None, "X" * 65])
def test_project_code_empty_or_too_long(code):
    with pytest.raises(ValidationError):
        v.check_project_code(code)


def test_project_code_max_length_ok():
    assert v.check_project_code("X" * 64) == []


# --- WTForms wrappers ----------------------------------------------------------------------


class _Form(Form):
    credit = StringField(validators=[v.CreditCode()])
    ident = StringField(validators=[v.IdNumber()])
    mobile = StringField(validators=[v.Mobile()])
    email = StringField(validators=[v.Email()])
    county = StringField(
        validators=[v.RegionCode(level="county", session=_FakeSession({"232701": _R("county"), "230100": _R("city")}))]
    )


def test_form_valid_and_empty_values_pass():
    form = _Form(
        data=dict(credit=VALID_USCC, ident=VALID_RIC, mobile="13800138000", email="a@example.com", county="232701")
    )
    assert form.validate(), form.errors
    assert _Form(data={}).validate()


def test_form_invalid_values():
    form = _Form(
        data=dict(credit="9123019930088715XA", ident=VALID_RIC[:-1] + "Y", mobile="123", email="nope", county="230100")
    )
    assert not form.validate()
    assert set(form.errors) == {"credit", "ident", "mobile", "email", "county"}


def test_wtforms_validator_raises_wtforms_error():
    class F:
        data = "123"

    with pytest.raises(WTFValidationError):
        v.Mobile()(None, F())


def test_messages_render_in_app_context():
    flask = pytest.importorskip("flask")
    from flask_babel import Babel

    app = flask.Flask(__name__)
    Babel(app)
    with app.app_context():
        with pytest.raises(ValidationError) as exc:
            v.validate_credit_code("9123019930088715XA")
        assert str(exc.value) == "统一社会信用代码校验位不正确"
