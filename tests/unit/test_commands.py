"""One schema per command (app/services/commands.py): a page's form and the REST API give the service
the same values and the same messages, whatever shape the input came in."""

from datetime import date
from decimal import Decimal as D

import pytest
from werkzeug.datastructures import MultiDict

from app.services.base import Invalid
from app.services.commands import (
    ClaimSchema,
    DispatchSchema,
    FieldErrors,
    IssuePolicySchema,
    OrderTermsSchema,
    read,
)


def _errors(schema, data):
    with pytest.raises(Invalid) as caught:
        read(schema, data)
    return {field: [str(m) for m in messages] for field, messages in caught.value.errors.items()}


def test_a_form_and_the_api_give_the_same_claim():
    form = MultiDict(
        [
            ("csrf_token", "t"),
            ("injured_count", "2"),
            ("death_count", ""),
            ("estimated_loss", "86000"),
            ("settled_date", "2026-11-20"),
            ("settled_amount", "72500.5"),
            ("submitted_date", "2026-09-08"),
            ("remark", ""),
        ]
    )
    typed = dict(
        injured_count=2,
        estimated_loss=D("86000"),
        settled_date=date(2026, 11, 20),
        settled_amount=D("72500.50"),
        submitted_date=date(2026, 9, 8),
        remark=None,
    )
    expected = dict(
        injured_count=2,
        death_count=0,
        estimated_loss=D("86000.00"),
        settled_date=date(2026, 11, 20),
        settled_amount=D("72500.50"),
        submitted_date=date(2026, 9, 8),
        remark=None,
    )
    assert read(ClaimSchema, form) == read(ClaimSchema, typed) == expected


def test_claim_rules_name_their_field():
    assert _errors(ClaimSchema, {"injured_count": "x", "remark": "y" * 501}) == {
        "injured_count": ["请输入整数"],
        "remark": ["最多 500 个字符"],
    }
    assert _errors(ClaimSchema, {"death_count": "-1"}) == {"death_count": ["须在 0 至 100000 之间"]}
    assert _errors(ClaimSchema, {"settled_amount": "100"}) == {"settled_date": ["填写已决金额时请选择已决日期"]}
    # settled before it was entered on the platform: an ordinary claim
    assert read(ClaimSchema, {"submitted_date": "2026-09-08", "settled_date": "2026-09-07"})["settled_date"] == date(
        2026, 9, 7
    )
    assert _errors(ClaimSchema, {"estimated_loss": "-1.5"}) == {"estimated_loss": ["金额不能为负数"]}
    assert _errors(ClaimSchema, {"estimated_loss": "12.345"}) == {"estimated_loss": ["最多两位小数"]}
    assert _errors(ClaimSchema, {"estimated_loss": "abc"}) == {"estimated_loss": ["请输入数字"]}
    assert _errors(ClaimSchema, {"estimated_loss": True}) == {"estimated_loss": ["格式不正确"]}
    assert _errors(ClaimSchema, {"submitted_date": "2026-13-01"}) == {"submitted_date": ["日期格式应为YYYY-MM-DD"]}


def test_issue_policy_required_fields_name_their_label():
    found = _errors(IssuePolicySchema, MultiDict([("builder_name", "  "), ("premium", ""), ("agreed", "y")]))
    assert found == {
        "builder_name": ["请填写建设单位名称"],
        "project_name": ["请填写项目名称"],
        "project_code": ["请填写项目代码"],
        "premium": ["请填写保费(元)"],
        "start_date": ["请选择生效日期"],
        "end_date": ["请选择终止日期"],
        "policy_no": ["请填写保单号"],
    }


def test_issue_policy_dates_and_defaults():
    good = dict(
        builder_name="建设单位",
        project_name="项目",
        project_code="2301-230102-04-01-123456",
        premium="12000",
        start_date="2026-03-01",
        end_date="2026-03-01",
        policy_no="P-1",
    )
    assert _errors(IssuePolicySchema, good) == {"end_date": ["终止日期须晚于生效日期"]}
    values = read(IssuePolicySchema, dict(good, end_date="2027-02-28", agreed="y"))
    assert values["plan_id"] is None and values["agreed"] is True and values["premium"] == D("12000.00")
    assert values["premium_deviation_reason"] is None


def test_collected_errors_keep_the_valid_fields():
    errors = FieldErrors()
    values = read(IssuePolicySchema, {"builder_name": "建设单位", "premium": "x"}, errors)
    assert values["builder_name"] == "建设单位" and values["premium"] is None
    assert [str(m) for m in errors.errors["premium"]] == ["请输入数字"] and "policy_no" in errors.errors


def test_order_terms_from_a_form_and_from_the_api():
    form = MultiDict(
        [
            ("org_id", "7"),
            ("service_item_ids", "3"),
            ("service_item_ids", ""),
            ("service_item_ids", "5"),
            ("service_place", "现场"),
            ("start_date", "2026-12-01"),
            ("end_date", "2026-12-31"),
            ("fee", ""),
            ("comment", "not a field of the terms"),
        ]
    )
    values = read(OrderTermsSchema, form)
    assert values["service_item_ids"] == [3, 5] and values["fee"] == D("0.00") and values["expert_id"] is None
    api = dict(
        policy_ids=[1, 2],
        org_id=7,
        service_item_ids=[3, 5],
        service_place="现场",
        start_date=date(2026, 12, 1),
        end_date=date(2026, 12, 31),
    )
    assert read(OrderTermsSchema, api) == values
    assert read(DispatchSchema, api)["policy_ids"] == [1, 2]


def test_order_terms_rules():
    found = _errors(
        OrderTermsSchema, {"org_id": "7", "expert_id": "8", "start_date": "2026-12-02", "end_date": "2026-12-01"}
    )
    assert found == {
        "org_id": ["请选择一个派单对象：事故预防机构或本公司专业技术人员"],
        "service_item_ids": ["请选择服务内容"],
        "service_place": ["请填写服务地点"],
        "end_date": ["结束日期不能早于开始日期"],
    }
    assert _errors(
        DispatchSchema,
        {
            "org_id": 1,
            "service_item_ids": [1],
            "service_place": "x",
            "start_date": "2026-12-01",
            "end_date": "2026-12-01",
        },
    ) == {"policy_ids": ["请选择要派单的投保项目"]}
