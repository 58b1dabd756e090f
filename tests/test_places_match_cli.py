"""A county-level city's mail (2024, due on the 20th) as real .eml files through
`report-intake match --json` with the city's roster (`jurisdiction`, `parent` set): the
parent's and neighbours' bodies go to review, the city's own are matched, in the encodings
real mail uses (GBK labelled gb2312, Big5, raw 8-bit headers)."""

from __future__ import annotations

import json
from datetime import datetime
from email.header import Header
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
from pathlib import Path

from click.testing import CliRunner

from tests.mail_helpers import write_config
from tests.service_helpers import photo
from tracker.cli import main

ROOT = Path(__file__).resolve().parent.parent
CITY = ROOT / "tests" / "places" / "shaoshan-city.toml"

# subject, sender display name, body, charset, Date, expected (decision, units, period)
MAILS = [
    ("市林业局5月政务公开主题日活动信息", "", "", "utf-8", "18 May 2024",
     ("matched", ["市林业局"], "2024-05")),
    ("韶山市林业局关于2024年5月主题日活动开展情况的报告", "", "", "gb2312", "17 May 2024",
     ("matched", ["市林业局"], "2024-05")),
    ("湘潭市林业局5月主题日活动", "", "", "gb2312", "18 May 2024", ("review", [], "")),
    ("5月主题日活动", "湘潭市林业局", "我局于5月16日开展活动。", "utf-8", "18 May 2024",
     ("review", [], "")),
    ("湘鄉市公安局5月主題日活動", "", "", "big5", "18 May 2024", ("review", [], "")),
    ("市公安局5月主題日活動", "", "", "big5", "18 May 2024", ("matched", ["市公安局"], "2024-05")),
    ("湘潭县公安局5月主题日活动", "", "", "utf-8", "18 May 2024", ("review", [], "")),
    ("银田镇5月份政务公开主题日", "", "", "gb2312", "20 May 2024",
     ("matched", ["银田镇"], "2024-05")),
    ("韶山乡6月主题日活动图片", "", "", "utf-8", "19 Jun 2024", ("matched", ["韶山乡"], "2024-06")),
    ("主题日活动", "韶山市财政局办公室", "我局开展了主题日活动。", "gb2312", "18 Jun 2024",
     ("matched", ["市财政局"], "2024-06")),
    ("市市场监督局9月主题日", "", "", "utf-8", "18 Sep 2024",
     ("matched", ["市市场监管局"], "2024-09")),
    ("湘潭市市场监督管理局9月主题日", "", "", "utf-8", "18 Sep 2024", ("review", [], "")),
    ("湘潭市生态环境局韶山分局6月主题日", "", "", "gb2312", "18 Jun 2024",
     ("matched", ["湘潭市生态环境局韶山分局"], "2024-06")),
    ("湘潭市生态环境局6月主题日", "", "", "utf-8", "18 Jun 2024", ("review", [], "")),
    ("国网湘潭供电公司11月主题日", "", "", "utf-8", "18 Nov 2024", ("review", [], "")),
    ("国网韶山市供电公司11月主题日", "", "", "utf-8", "18 Nov 2024",
     ("matched", ["市供电公司"], "2024-11")),
    ("雨湖区林业局5月主题日活动", "", "", "utf-8", "18 May 2024", ("review", [], "")),
    ("市林业局与湘潭市林业局联合开展5月主题日活动", "", "", "utf-8", "18 May 2024",
     ("matched", ["市林业局"], "2024-05")),
    ("市林业局主题日活动", "", "", "utf-8", "19 May 2024", ("matched", ["市林业局"], "2024-05")),
    ("市人力资源和社会保障局7月主题日", "", "", "gb2312", "18 Jul 2024",
     ("matched", ["市人社局"], "2024-07")),
    # other places without their level: the roster lists none, the gazetteer knows them
    ("湘乡林业局5月主题日活动", "", "", "gb2312", "18 May 2024", ("review", [], "")),
    ("岳塘公安分局5月主题日", "", "", "utf-8", "18 May 2024", ("review", [], "")),
    ("5月主题日活动", "宁乡林业局", "我局于5月16日开展活动。", "gb2312", "18 May 2024",
     ("review", [], "")),
    ("长沙林业局5月主题日活动", "", "", "utf-8", "18 May 2024", ("review", [], "")),
    ("銅鼓林業局5月主題日活動", "", "", "big5", "18 May 2024", ("review", [], "")),
    ("韶山林业局5月主题日活动", "", "", "gb2312", "18 May 2024",
     ("matched", ["市林业局"], "2024-05")),
]  # fmt: skip


def _eml(subject: str, name: str, body: str, charset: str, day: str, seed: int) -> bytes:
    """As Chinese clients send it: the subject and name as encoded words in `charset`
    (GBK bytes when it says gb2312), a text part, a photo."""
    msg = MIMEMultipart()
    sender = f"u{seed}@qq.com"
    msg["From"] = formataddr((str(Header(name, charset)), sender)) if name else sender
    if name:
        msg.replace_header("From", f"{Header(name, charset).encode()} <{sender}>")
    msg["To"] = "ssgov@163.com"
    msg["Subject"] = Header(subject, charset)
    msg["Date"] = f"Sat, {day} 10:00:00 +0800"
    msg.attach(MIMEText(body or "活动图片见附件。", "plain", "utf-8"))
    image = MIMEImage(photo(seed), "jpeg")
    image.add_header("Content-Disposition", "attachment", filename="photo.jpg")
    msg.attach(image)
    return msg.as_bytes()


def test_the_citys_mail_through_match_json(tmp_path: Path) -> None:
    config = write_config(tmp_path, smtp_port=1, roster=CITY)
    rows = []
    for i, (subject, name, body, charset, day, _want) in enumerate(MAILS):
        path = tmp_path / f"m{i:02d}.eml"
        path.write_bytes(_eml(subject, name, body, charset, day, i + 1))
        received = datetime.strptime(day, "%d %b %Y").date().isoformat()  # arrived that day
        result = CliRunner().invoke(
            main, ["--config", str(config), "match", "--json", "--received", received, str(path)]
        )
        assert result.exit_code == 0, result.output
        rows += [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(rows) == len(MAILS)
    wrong, confident_wrong = [], []
    for row, mail in zip(rows, MAILS, strict=True):
        want = mail[-1]
        got = (row["decision"], row["units"], row["period"] or "")
        if row["decision"] == "review":
            got = ("review", [], "")  # review is right whatever it suggests
        if got != want:
            wrong.append(f"{mail[0]}: {got} {row['reasons']}")
            if row["decision"] == "matched":
                confident_wrong.append(mail[0])
    assert confident_wrong == [], wrong
    assert wrong == []
