"""The matcher, rule by rule: one table row per rule of the issue, built from ParsedMail values."""

from __future__ import annotations

import io
from dataclasses import dataclass

import docx
import openpyxl
import pytest

from intake.matching import MatchResult, build_index, find_units, match, read_liaison_fields
from intake.parsing import ParsedMail
from tests.matching_mail import OWN, at, attachment, load_jurisdiction, load_units, mail

UNITS = load_units()
PLACE = load_jurisdiction()
PHOTO = (attachment("现场.jpg"),)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Case:
    id: str
    mail: ParsedMail
    received: str
    kind: str
    decision: str
    units: tuple[str, ...]
    period: str | None
    reason: str = ""  # a reason the clerk must see (substring)


def run(m: ParsedMail, received: str) -> MatchResult:
    return match(m, UNITS, received_at=at(received), own_addresses=OWN, jurisdiction=PLACE)


CASES = [
    # 1. classification
    Case("report_in_subject", mail("县林业局5月政务公开主题日活动信息", attachments=PHOTO),
         "2023-05-18", "report", "matched", ("县林业局",), "2023-05", "主题中的单位名：县林业局"),
    Case("auto_reply_header", mail("关于报送的通知", headers={"auto-submitted": "auto-replied"}),
         "2023-05-18", "other", "ignored", (), None, "Auto-Submitted"),
    Case("auto_reply_subject_traditional", mail("自動回覆：主題日"), "2023-05-18", "other", "ignored", (), None),
    Case("bounce", mail("系统退信", from_addr="mailer-daemon@126.com", return_path=""),
         "2023-05-18", "other", "ignored", (), None, "退信"),
    Case("own_mail", mail("县林业局5月提醒", from_addr="xtxgov@126.com"), "2023-05-18",
         "other", "ignored", (), None, "本办公室"),
    Case("spam", mail("代开发票", text="正规代开发票，加微信"), "2023-05-18", "other", "ignored", (), None, "广告"),
    Case("spam_naming_a_unit_goes_to_review", mail("县林业局：代开发票"), "2023-05-18",
         "other", "review", ("县林业局",), None),
    Case("liaison_in_body", mail("联络员信息", text="单位名称：湘潭县林业局\n姓名：周敏\n职务：主任\n手机：13900000000"),
         "2023-04-10", "liaison", "matched", ("县林业局",), None, "联络员信息表中的单位名"),
    Case("reply_with_report", mail("回复：关于报送政务公开主题日活动情况的通知", from_addr="lyj.xtx@example.com",
                                   text="我局活动图片见附件。\n\n-----原始邮件-----\n发件人: xtxgov@126.com\n发送时间: 2023年5月20日\n请县消防救援大队报送",
                                   attachments=PHOTO), "2023-05-22", "report", "matched", ("县林业局",), "2023-05"),
    Case("reply_ack", mail("回复：关于报送政务公开主题日活动情况的通知", from_addr="lyj.xtx@example.com", text="收到"),
         "2023-05-22", "other", "ignored", (), None, "收到"),
    # 2. units from every place
    Case("unit_in_display_name", mail("主题日活动", from_name="湘潭县财政局办公室", attachments=PHOTO),
         "2023-08-20", "report", "matched", ("县财政局",), "2023-08", "发件人名称中的单位名"),
    Case("unit_in_html_body_lead", mail("主题日活动", html="<p>湘潭县白石镇于8月18日开展活动，我镇…</p>", attachments=PHOTO),
         "2023-08-20", "report", "matched", ("白石镇",), "2023-08"),
    Case("unit_in_signature", mail("活动材料", text="我局于8月22日开展主题日活动。\n\n湘潭县审计局\n2023年9月1日", attachments=PHOTO),
         "2023-09-01", "report", "matched", ("县审计局",), "2023-08", "落款中的单位名"),
    Case("unit_in_attachment_name", mail("8月活动", attachments=(attachment("县科工局主题日.jpg"),)),
         "2023-08-25", "report", "matched", ("县科工局",), "2023-08", "附件名中的单位名"),
    Case("unit_in_forward_header", mail("转发：活动信息", text="转给您\n\n-----原始邮件-----\n发件人: \"湘潭县公安局\" <x@qq.com>\n发送时间: 2023年9月15日\n主题: 活动信息\n\n9月12日我局开展活动", attachments=PHOTO),
         "2023-09-18", "report", "matched", ("县公安局",), "2023-09", "转发原邮件的发件人中的单位名"),
    Case("known_address", mail("图片", from_addr="WJJ.xtx@example.com".lower(), attachments=PHOTO),
         "2023-06-20", "report", "matched", ("县卫健局",), "2023-06", "发件人地址已登记：wjj.xtx@example.com"),
    Case("abbreviation_by_subsequence", mail("县市场监督局9月主题日", attachments=PHOTO),
         "2023-09-20", "report", "matched", ("县市场监管局",), "2023-09", "（简称）"),
    Case("abbreviation_of_a_long_name", mail("县人力社保局7月主题日", attachments=PHOTO),
         "2023-07-20", "report", "matched", ("县人社局",), "2023-07"),
    Case("distinctive_stem", mail("昆仑燃气11月主题日活动", attachments=PHOTO),
         "2023-11-20", "report", "matched", ("县中石油昆仑燃气公司",), "2023-11", "（字号）"),
    Case("traditional_characters", mail("湘潭縣林業局5月政務公開主題日", attachments=PHOTO),
         "2023-05-20", "report", "matched", ("县林业局",), "2023-05"),
    Case("passing_mentions_in_body", mail("县公安局9月主题日", text="我局会同县司法局、县市场监管局开展", attachments=PHOTO),
         "2023-09-20", "report", "matched", ("县公安局",), "2023-09"),
    Case("joint_report", mail("云湖桥镇、中路铺镇联合开展4月主题日活动", attachments=PHOTO),
         "2023-04-25", "report", "matched", ("云湖桥镇", "中路铺镇"), "2023-04", "联合开展"),
    Case("conflicting_senders", mail("县林业局5月主题日", from_addr="zjj.xtx@example.com", attachments=PHOTO),
         "2023-05-20", "report", "review", ("县林业局", "县住建局"), None, "无法确定发件单位"),
    Case("no_unit", mail("图片", attachments=PHOTO), "2023-05-20", "report", "review", (), None, "未找到单位名"),
    Case("body_only_several_units", mail("活动", text="县司法局、县公安局联合开展活动", attachments=PHOTO),
         "2023-09-20", "report", "review", (), None, "仅在正文中提到单位"),
    # 3. periods
    Case("month_fen", mail("石潭镇6月份主题日", attachments=PHOTO), "2023-06-20", "report", "matched", ("石潭镇",), "2023-06"),
    Case("chinese_month", mail("锦石乡十一月份主题日", attachments=PHOTO), "2023-11-20", "report", "matched", ("锦石乡",), "2023-11"),
    Case("fullwidth_month", mail("排头乡５月主题日", attachments=PHOTO), "2023-05-20", "report", "matched", ("排头乡",), "2023-05"),
    Case("year_dot_month", mail("县民政局2023.6主题日", attachments=PHOTO), "2023-06-20", "report", "matched", ("县民政局",), "2023-06"),
    Case("chinese_year", mail("二〇二三年十二月县商务局主题日", attachments=PHOTO), "2023-12-20", "report", "matched", ("县商务局",), "2023-12"),
    Case("date_in_body", mail("县审计局主题日", text="8月16日，我局在…开展", attachments=PHOTO), "2023-08-20", "report", "matched", ("县审计局",), "2023-08", "正文中的月份"),
    Case("activity_month_beats_notice_month", mail("关于4月份通知的6月主题日活动", from_name="县民政局", attachments=PHOTO),
         "2023-06-20", "report", "matched", ("县民政局",), "2023-06"),
    Case("late_report", mail("河口镇5月主题日", attachments=PHOTO), "2023-06-03", "report", "matched", ("河口镇",), "2023-05"),
    Case("december_sent_in_january", mail("易俗河镇12月主题日", attachments=PHOTO), "2024-01-05", "report", "matched", ("易俗河镇",), "2023-12", "2023年"),
    Case("moved_event_goes_to_review", mail("县财政局9月主题日", attachments=PHOTO), "2023-09-20", "report", "review", ("县财政局",), "2023-09", "排期"),
    Case("schedule_inference", mail("县交通局主题日活动", attachments=PHOTO), "2023-10-24", "report", "matched", ("县交通局",), "2023-10", "未写月份，按排期推断为2023-10"),
    Case("no_inference_outside_schedule", mail("县信访局主题日活动", attachments=PHOTO), "2023-05-10", "report", "review", ("县信访局",), None, "未写月份"),
    Case("circled_numbers_make_no_month", mail("射埠镇主题日", text="①悬挂横幅②发放资料", attachments=PHOTO),
         "2023-11-22", "report", "matched", ("射埠镇",), "2023-11", "按排期推断"),
    # 3b. only theme-day mail is dated by the schedule; other documents go to staff
    Case("annual_report_is_not_a_theme_day_report", mail("县民政局2023年政府信息公开工作年度报告", attachments=(attachment("年度报告.docx", DOCX),)),
         "2024-01-12", "other", "review", ("县民政局",), None, "年度报告"),
    Case("half_year_summary", mail("县司法局上半年政务公开工作总结", attachments=(attachment("总结.pdf", "application/pdf"),)),
         "2023-09-20", "other", "review", ("县司法局",), None, "不是主题日活动报告"),
    Case("self_inspection_in_file_name", mail("县水利局材料", attachments=(attachment("县水利局政务公开自查报告.pdf", "application/pdf"),)),
         "2023-11-20", "other", "review", ("县水利局",), None, "自查报告"),
    Case("no_month_and_no_theme_day_no_inference", mail("县交通局材料报送", attachments=(attachment("材料.pdf", "application/pdf"),)),
         "2023-10-24", "report", "review", ("县交通局",), None, "未提到主题日活动"),
    Case("a_report_on_another_matter_from_a_known_address", mail("关于烟花爆竹安全生产专项整治工作开展情况的报告", from_addr="sjj.xtx@example.com", attachments=(*PHOTO, attachment("报告.docx", DOCX))),
         "2023-08-21", "other", "review", ("县审计局",), None, "不是主题日活动报告"),
    Case("a_briefing_from_a_known_address_in_its_month", mail("林长制工作简报（第5期）", from_addr="sjj.xtx@example.com", attachments=PHOTO),
         "2023-08-21", "other", "review", ("县审计局",), None, "林长制工作简报"),
    Case("another_matter_with_a_month_and_no_photos", mail("2023年8月全县审计形势分析", from_addr="sjj.xtx@example.com", attachments=(attachment("分析.docx", DOCX),)),
         "2023-08-21", "other", "review", ("县审计局",), None, "不是主题日活动报告"),
    Case("a_unit_and_a_month_with_file_words_is_still_a_report", mail("县审计局8月份图片材料", attachments=PHOTO),
         "2023-08-21", "report", "matched", ("县审计局",), "2023-08"),
    Case("a_formal_title_naming_the_theme_day_is_a_report", mail("关于县审计局8月政务公开主题日活动开展情况的报告", attachments=PHOTO),
         "2023-08-21", "report", "matched", ("县审计局",), "2023-08"),
    Case("theme_day_summary_is_still_a_report", mail("易俗河镇主题日活动总结", attachments=PHOTO),
         "2023-12-20", "report", "matched", ("易俗河镇",), "2023-12", "按排期推断"),
    Case("photos_alone_are_dated_by_the_schedule", mail("IMG_0815", from_addr="sjj.xtx@example.com", attachments=PHOTO),
         "2023-08-21", "report", "matched", ("县审计局",), "2023-08", "按排期推断"),
    # 3c. another jurisdiction's body is not the county's unit
    Case("city_bureau", mail("湘潭市交通运输局10月主题日活动", attachments=PHOTO),
         "2023-10-20", "report", "review", (), None, "单位名前为其他行政区划：湘潭市交通运输局"),
    Case("bare_city_prefix", mail("市审计局8月政务公开主题日", attachments=PHOTO),
         "2023-08-20", "report", "review", (), None, "市审计局"),
    Case("district_bureau", mail("雨湖区民政局6月主题日活动", attachments=PHOTO),
         "2023-06-20", "report", "review", (), None, "雨湖区民政局"),
    Case("other_county_bureau", mail("株洲县公安局9月主题日活动", attachments=PHOTO),
         "2023-09-20", "report", "review", (), None, "株洲县公安局"),
    Case("county_level_city_short_name", mail("韶山市教育局7月主题日", attachments=PHOTO),
         "2023-07-20", "report", "review", (), None, "韶山市教育局"),
    Case("city_prefix_in_signature_only", mail("5月主题日活动", text="我局于5月16日开展活动。\n\n湘潭市林业局\n2023年5月18日", attachments=PHOTO),
         "2023-05-18", "report", "review", (), None, "湘潭市林业局"),
    Case("city_name_against_a_bare_display_name", mail("湘潭市水利局11月主题日活动", from_name="水利局", attachments=PHOTO),
         "2023-11-20", "report", "review", ("县水利局",), None, "与其他位置的单位名不一致"),
    Case("city_name_against_a_known_address", mail("湘潭市卫生健康委6月主题日", from_addr="wjj.xtx@example.com", attachments=PHOTO),
         "2023-06-20", "report", "review", ("县卫健局",), None, "湘潭市卫生健康委"),
    Case("county_and_city_bureaus_together", mail("湘潭县林业局与湘潭市林业局联合开展5月主题日活动", attachments=PHOTO),
         "2023-05-20", "report", "matched", ("县林业局",), "2023-05"),
    Case("official_letter_opening_with_guanyu", mail("关于县审计局8月份政务公开主题日活动开展情况的报告", attachments=PHOTO),
         "2023-08-20", "report", "matched", ("县审计局",), "2023-08"),
    Case("city_bureau_as_a_partner", mail("县公安局联合湘潭市司法局开展9月主题日活动", attachments=PHOTO),
         "2023-09-20", "report", "matched", ("县公安局",), "2023-09"),
    Case("city_bureau_in_passing_in_the_body", mail("县林业局5月主题日", text="湘潭市林业局领导到场指导。", attachments=PHOTO),
         "2023-05-20", "report", "matched", ("县林业局",), "2023-05"),
    Case("county_prefix_typed_with_a_lookalike", mail("湘谭县财政局8月主题日", attachments=PHOTO),
         "2023-08-20", "report", "matched", ("县财政局",), "2023-08"),
    Case("the_city_bureaus_county_branch", mail("湘潭市生态环境局湘潭县分局4月主题日", attachments=PHOTO),
         "2023-04-20", "report", "matched", ("市生态环境局县分局",), "2023-04"),
    Case("the_city_bureau_itself", mail("湘潭市生态环境局4月主题日", attachments=PHOTO),
         "2023-04-20", "report", "review", (), None, "湘潭市生态环境局"),
    Case("county_units_after_verbs", mail("会同县司法局开展9月主题日", from_name="县公安局", attachments=PHOTO),
         "2023-09-20", "report", "review", ("县公安局", "县司法局"), None, "无法确定发件单位"),
    # 3d. a township name one character off is only a hint for staff
    Case("township_typo_is_a_hint", mail("花右镇10月主题日活动", attachments=PHOTO),
         "2023-10-20", "report", "review", (), None, "可能是：花石镇"),
    Case("township_lookalike_typo", mail("石谭镇6月主题日活动", attachments=PHOTO),
         "2023-06-20", "report", "review", (), None, "可能是：石潭镇"),
    # 4. confidence
    Case("phishing_naming_a_unit_goes_to_review", mail("县林业局邮箱账号异常，请立即验证"), "2023-05-18",
         "other", "review", ("县林业局",), None, "钓鱼"),
    Case("provider_notice", mail("文件中转站：文件即将过期", from_addr="10000@qq.com", text="您的文件即将过期"),
         "2023-05-18", "other", "ignored", (), None, "10000@qq.com"),
    Case("ack_to_the_liaison_request", mail("答复: 联络员信息表", from_name="县交通局",
                                            text="好的，收到。\n\n发件人: xtxgov@126.com\n主题: 联络员信息表\n请报送联络员信息表。"),
         "2023-04-10", "other", "ignored", (), None, "收到"),
    Case("question_goes_to_review", mail("县信访局咨询", from_addr="xfj.xtx@example.com", text="活动可否推迟至11月？"),
         "2023-10-09", "other", "review", ("县信访局",), None, "询问"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_it_follows_the_rule(case: Case) -> None:
    result = run(case.mail, case.received)
    assert (result.kind, result.decision, set(result.units), result.period) == (
        case.kind,
        case.decision,
        set(case.units),
        case.period,
    ), result.reasons
    if case.reason:
        assert any(case.reason in r for r in result.reasons), result.reasons
    if result.decision == "matched":
        assert 0.5 <= result.confidence <= 1.0
    else:
        assert result.confidence < 0.5 or result.decision == "ignored"


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("石潭镇", "石潭镇"),
        ("石鼓镇", "石鼓镇"),
        ("白石镇", "白石镇"),
        ("花石镇", "花石镇"),
        ("乌石镇", "乌石镇"),
        ("锦石乡", "锦石乡"),
        ("县林业局", "县林业局"),
        ("县农业农村局", "县农业农村局"),
    ],
)
def test_it_tells_close_names_apart(text: str, unit: str) -> None:
    hits = find_units(text, build_index(UNITS))
    assert [h.unit for h in hits] == [unit]


@pytest.mark.parametrize(
    "text", ["石镇", "石", "齐白石故居", "我局", "县行政审批局", "生态环境保护"]
)
def test_it_never_matches_a_shared_character_or_common_words(text: str) -> None:
    assert find_units(text, build_index(UNITS)) == []


def test_it_scores_an_abbreviation_below_an_exact_alias() -> None:
    index = build_index(UNITS)
    exact = find_units("县市场监管局", index)
    abbreviated = find_units("县市场监督局", index)
    assert [h.unit for h in exact] == [h.unit for h in abbreviated] == ["县市场监管局"]
    assert abbreviated[0].how < exact[0].how


def test_it_builds_the_index_once_per_roster() -> None:
    assert build_index(UNITS) is build_index(UNITS)
    assert build_index(list(UNITS)) is not build_index(UNITS)


def test_it_accepts_any_sequence_of_units() -> None:
    result = match(
        mail("县林业局5月主题日", attachments=PHOTO), list(UNITS), received_at=at("2023-05-20")
    )
    assert result.units == ("县林业局",)


def test_it_takes_a_naive_received_time_as_shanghai_time() -> None:
    received = at("2024-01-01 00:30").replace(tzinfo=None)
    result = match(mail("县商务局主题日", attachments=PHOTO), UNITS, received_at=received)
    assert result.period == "2023-12"


FORM = {
    "单位名称": "湘潭县水利局",
    "姓名": "陈刚",
    "性别": "男",
    "职务": "副主任",
    "办公电话": "0731-57221122",
    "手机": "13875123456",
    "传真": "0731-57221123",
    "QQ号": "87654321",
    "微信号": "chengang",
    "电子邮箱": "xtslj@163.com",
}
LAYOUT = [
    ["单位名称", "单位名称", "", "", "", ""],
    ["姓名", "姓名", "性别", "性别", "职务", "职务"],
    ["办公电话", "办公电话", "手机", "手机", "传真", "传真"],
    ["QQ号", "QQ号", "微信号", "微信号", "电子邮箱", "电子邮箱"],
]


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["“政务公开主题日”活动联络员信息表"])
    for row in LAYOUT:
        sheet.append([FORM[c] if i % 2 and c else c for i, c in enumerate(row)])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _docx() -> bytes:
    document = docx.Document()
    table = document.add_table(rows=4, cols=6)
    for r, row in enumerate(LAYOUT):
        for c, label in enumerate(row):
            table.cell(r, c).text = FORM[label] if c % 2 and label else label
    table.cell(0, 1).merge(table.cell(0, 5)).text = FORM["单位名称"]
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize(
    "form",
    [attachment("联络员信息表.xlsx", XLSX, _xlsx()), attachment("附件5.docx", DOCX, _docx())],
    ids=["xlsx", "docx"],
)
def test_it_reads_the_liaison_form_from_an_attachment(form: object) -> None:
    m = mail("附件5", attachments=(form,))  # type: ignore[arg-type]
    assert read_liaison_fields(m) == FORM
    result = run(m, "2023-04-12")
    assert (result.kind, result.decision, result.units) == ("liaison", "matched", ("县水利局",))


def test_it_reads_the_liaison_form_from_the_body() -> None:
    m = mail(
        "联络员",
        text="單位名稱：湘潭縣交通運輸局\n姓名：王芳 性别：女\n手机：13975212345\nQQ号：12345",
    )
    fields = read_liaison_fields(m)
    assert fields["单位名称"] == "湘潭县交通运输局"
    assert fields["姓名"] == "王芳"
    assert fields["性别"] == "女"
    assert fields["手机"] == "13975212345"
    assert fields["QQ号"] == "12345"


def test_it_reads_nothing_from_a_broken_office_file() -> None:
    m = mail("附件5", attachments=(attachment("附件5.xlsx", XLSX, b"PK\x03\x04 broken"),))
    assert read_liaison_fields(m) == {}


def test_it_reads_a_liaison_form_whose_values_sit_under_a_header_row() -> None:
    document = docx.Document()
    rows = [
        ["单位名称", "湘潭县河口镇", ""],
        ["姓名", "性别", "职务"],
        ["张三", "男", "科员"],
        ["手机", "电子邮箱", "QQ号"],
        ["13900000001", "hekou@example.cn", "12345"],
    ]
    table = document.add_table(rows=len(rows), cols=3)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    buf = io.BytesIO()
    document.save(buf)
    m = mail("附件5", attachments=(attachment("附件5.docx", DOCX, buf.getvalue()),))
    assert read_liaison_fields(m) == {
        "单位名称": "湘潭县河口镇",
        "姓名": "张三",
        "性别": "男",
        "职务": "科员",
        "手机": "13900000001",
        "电子邮箱": "hekou@example.cn",
        "QQ号": "12345",
    }
