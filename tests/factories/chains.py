"""The insured chain the scope and API tests build as setup: project → application (已投保) → policy →
claim → dispatch order, every row carrying the scope columns the services would copy onto it.

Test setup, not a workflow: states only a workflow reaches are reached through the services in the
workflow tests. ``code`` makes the numbers unique per module (``API-<tag>-A``, ``SCOPE-A`` …).
"""

from datetime import date

from app.models import Application, Claim, DispatchOrder, Policy, Project


def insured_chain(
    session,
    *,
    key,
    code,
    name,
    enterprise,
    region,
    insurer,
    broker,
    plan,
    org,
    expert,
    order_status="pending",
    extra=None,
):
    """The rows of one chain, flushed (ids set): {model name: row}. ``extra`` adds column values per
    model name (``{"Claim": {"remark": …}}``), e.g. the markers the isolation matrix looks for."""
    s = session
    extra = extra or {}
    project = Project(
        enterprise_id=enterprise.id,
        region_code=region,
        project_code=f"{code}-{key}",
        name=f"{name}{key}",
        investment=1000,
        **extra.get("Project", {}),
    )
    s.add(project)
    s.flush()
    application = Application(
        project_id=project.id,
        enterprise_id=enterprise.id,
        region_code=region,
        insurer_id=insurer.id,
        broker_id=broker.id if broker else None,
        plan_id=plan.id,
        status="insured",
        **extra.get("Application", {}),
    )
    s.add(application)
    s.flush()
    policy = Policy(
        application_id=application.id,
        project_id=project.id,
        enterprise_id=enterprise.id,
        region_code=region,
        insurer_id=insurer.id,
        broker_id=application.broker_id,
        plan_id=plan.id,
        builder_name=project.builder_name or "建设单位",
        project_name=project.name,
        project_code=project.project_code,
        premium=1000,
        start_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
        policy_no=f"{code}-PN-{key}",
        ledger_no=f"CB-{code}-{key}",
        **extra.get("Policy", {}),
    )
    s.add(policy)
    s.flush()
    claim_fields = dict(dict(injured_count=1, death_count=0, submitted_date=date(2026, 3, 1)), **extra.get("Claim", {}))
    claim = Claim(
        policy_id=policy.id,
        insurer_id=insurer.id,
        enterprise_id=enterprise.id,
        region_code=region,
        **claim_fields,
    )
    order_fields = dict(dict(service_place="现场"), **extra.get("DispatchOrder", {}))
    order = DispatchOrder(
        order_no=f"{code}-{key}",
        policy_id=policy.id,
        project_id=project.id,
        enterprise_id=enterprise.id,
        region_code=region,
        insurer_id=insurer.id,
        org_id=org.id,
        expert_id=expert.id,
        start_date=date(2026, 4, 1),
        end_date=date(2026, 4, 30),
        deadline=date(2026, 4, 5),
        status=order_status,
        **order_fields,
    )
    s.add_all([claim, order])
    s.flush()
    return dict(Project=project, Application=application, Policy=policy, Claim=claim, DispatchOrder=order)
