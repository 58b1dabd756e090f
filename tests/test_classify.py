"""First sorting of mail: ignored mail, liaison forms, candidate reports."""

from __future__ import annotations

import pytest

from intake.classify import classify
from tests.matching_mail import OWN, attachment, mail

IGNORED = [
    ("auto_submitted", mail("主题日", headers={"auto-submitted": "auto-replied"}), "Auto-Submitted"),
    ("x_autoreply", mail("主题日", headers={"x-autoreply": "yes"}), "x-autoreply"),
    ("x_autorespond", mail("主题日", headers={"x-autorespond": "1"}), "x-autorespond"),
    ("x_auto_response_suppress", mail("主题日", headers={"x-auto-response-suppress": "All"}), "x-auto-response-suppress"),
    ("precedence_bulk", mail("简报", headers={"precedence": "bulk"}), "Precedence"),
    ("precedence_junk", mail("简报", headers={"precedence": "junk"}), "Precedence"),
    ("precedence_list", mail("简报", headers={"precedence": "list"}), "Precedence"),
    ("precedence_auto_reply", mail("简报", headers={"precedence": "auto_reply"}), "Precedence"),
    ("list_id", mail("简报", headers={"list-id": "<x.163.com>"}), "邮件列表"),
    ("x_loop", mail("县林业局5月", headers={"x-loop": "xtxgov@126.com"}), "x-loop"),
    ("subject_zidong_huifu", mail("自动回复：关于报送的通知"), "自动回复"),
    ("subject_auto_reply", mail("Auto Reply: 主题日"), "自动回复"),
    ("subject_automatic_reply", mail("Automatic reply: 主题日"), "自动回复"),
    ("subject_traditional", mail("自動回覆：主題日"), "自动回复"),
    ("null_return_path", mail("Undelivered Mail", return_path=""), "Return-Path"),
    ("mailer_daemon", mail("failure", from_addr="mailer-daemon@126.com"), "退信"),
    ("postmaster", mail("failure", from_addr="postmaster@qq.com"), "退信"),
    ("delivery_status", mail("x", content_type="multipart/report", report_type="delivery-status"), "投递状态"),
    ("subject_xitong_tuixin", mail("系统退信"), "退信"),
    ("subject_qq_bounce", mail("来自QQ.com的退信"), "退信"),
    ("own_address", mail("提醒", from_addr="XTXGOV@126.com".lower()), "本办公室"),
    ("spam_invoice", mail("代开发票"), "广告"),
    ("spam_loan_in_body", mail("您好", text="低息贷款，无抵押，当天放款"), "广告"),
    ("newsletter_unsubscribe", mail("会员周刊", html="<p>促销活动</p><a>退订</a>"), "广告"),
    ("ack_shoudao", mail("回复：通知", text="收到", in_reply_to="<n@126.com>"), "收到"),
    ("ack_haode", mail("Re: 通知", text="好的，谢谢！"), "收到"),
    # mail providers' own system mail, and account-security phishing
    ("netease_service", mail("邮箱空间即将不足", from_addr="mail@service.netease.com"), "系统自动"),
    ("netease_subdomain", mail("安全提醒", from_addr="safe@mail.netease.com"), "系统自动"),
    ("qq_system_account", mail("您的中转文件将于3天后删除", from_addr="10000@qq.com"), "10000@qq.com"),
    ("no_reply", mail("账单通知", from_addr="no-reply@example.com"), "系统自动"),
    ("donotreply", mail("通知", from_addr="donotreply@example.cn"), "系统自动"),
    ("phishing_frozen", mail("您的邮箱帐号已被冻结，请重新验证", from_addr="admin@mailbox-safe.top"), "钓鱼"),
    ("phishing_full", mail("紧急：邮箱容量已满，点击升级", from_addr="it@example.cn"), "钓鱼"),
    # a reply to the liaison request that only acknowledges it, with the request quoted
    ("ack_liaison_request", mail("答复: 联络员信息表", text="收到，谢谢。\n\n发件人: xtxgov@126.com\n主题: 联络员信息表\n请于4月12日前报送联络员信息表。"), "收到"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("m", "reason"), [(m, r) for _, m, r in IGNORED], ids=[i for i, _, _ in IGNORED]
)
def test_it_ignores_mail_nobody_has_to_act_on(m, reason: str) -> None:
    result = classify(m, OWN)
    assert result.ignored
    assert result.kind == "other"
    assert any(reason.lower() in r.lower() for r in result.reasons), result.reasons


def test_it_keeps_auto_submitted_no() -> None:
    result = classify(mail("县林业局5月主题日", headers={"auto-submitted": "no"}), OWN)
    assert (result.kind, result.ignored) == ("report", False)


def test_it_keeps_a_reply_that_carries_the_report() -> None:
    m = mail("回复：通知", text="收到，图片见附件", attachments=(attachment("1.jpg"),))
    assert classify(m, OWN).kind == "report"


def test_it_keeps_a_reply_with_a_cloud_link() -> None:
    link = "https://mail.163.com/large-attachment-download/index.html?p=X-NETEASE-HUGE-ATTACHMENT&file=abc"
    m = mail("回复：通知", text=f"好的\n从网易163邮箱发来的超大附件\n{link}")
    assert not classify(m, OWN).ignored


def test_it_does_not_call_a_campaign_mail_spam() -> None:
    m = mail("县税务局政务公开主题日", text="宣传发票管理和贷款贴息政策")
    result = classify(m, OWN)
    assert (result.ignored, result.spam) == (False, False)


@pytest.mark.parametrize(
    "m",
    [
        mail("县林业局联络员信息表"),
        mail("聯絡員信息表"),
        mail("报送", attachments=(attachment("联络员信息表.xlsx", "application/vnd.ms-excel"),)),
        mail("附件5", text="联络员：张三\n职务：科员\n手机：13900000000"),
    ],
    ids=["subject", "traditional", "attachment_name", "body_fields"],
)
def test_it_recognises_the_liaison_form(m) -> None:
    result = classify(m, OWN)
    assert (result.kind, result.ignored) == ("liaison", False)


def test_it_sends_a_question_to_staff() -> None:
    result = classify(mail("请问主题日材料要盖章吗？"), OWN)
    assert (result.kind, result.ignored) == ("other", False)
    assert "询问" in result.reasons[0]


@pytest.mark.parametrize(
    "m",
    [
        mail(
            "县林业局5月主题日", from_addr="1000123456@qq.com", attachments=(attachment("1.jpg"),)
        ),
        mail(
            "县林业局5月主题日",
            from_addr="service@xtlyj.gov.cn",
            attachments=(attachment("1.jpg"),),
        ),
        mail("县林业局账号与密码保密宣传主题日活动", attachments=(attachment("1.jpg"),)),
    ],
    ids=["qq_number_of_a_person", "service_mailbox_of_a_unit", "campaign_about_accounts"],
)
def test_it_keeps_unit_mail_that_only_looks_like_system_mail(m) -> None:
    result = classify(m, OWN)
    assert (result.kind, result.ignored) == ("report", False), result.reasons


def test_it_ignores_phishing_like_spam_so_a_named_unit_can_bring_it_back() -> None:
    result = classify(mail("邮箱账号异常，请立即验证"), OWN)
    assert (result.ignored, result.spam) == (True, True)


@pytest.mark.parametrize(
    ("m", "kind"),
    [
        (
            mail("回复：联络员信息表", text="已于上周报送，请查看。", in_reply_to="<n@126.com>"),
            "report",
        ),
        (mail("Re: 联络员信息表", text="联络员：李强\n职务：科员\n手机：13912345678"), "liaison"),
        (mail("回复：联络员信息表", text="我局联络员李强，手机：13912345678"), "liaison"),
        (
            mail(
                "回复：联络员信息表",
                attachments=(attachment("联络员信息表.xlsx", "application/vnd.ms-excel"),),
            ),
            "liaison",
        ),
    ],
    ids=[
        "reply_without_form",
        "reply_with_fields",
        "reply_with_name_and_mobile",
        "reply_with_file",
    ],
)
def test_it_wants_the_form_itself_in_a_reply_about_the_liaison_form(m, kind: str) -> None:
    assert classify(m, OWN).kind == kind
