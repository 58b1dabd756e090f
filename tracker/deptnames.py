"""The full official names of county-level government departments, by the short names
offices write (人社局 for 人力资源和社会保障局). National naming, no place: a notice that
writes only the short names still gets the full ones as aliases (`roster import`), so mail
that writes 湘潭县人力资源和社会保障局 finds 县人社局."""

from __future__ import annotations

# short core (after the level character) -> full core
FULL_NAMES: dict[str, str] = {
    "发改局": "发展和改革局",
    "人社局": "人力资源和社会保障局",
    "住建局": "住房和城乡建设局",
    "卫健局": "卫生健康局",
    "医保局": "医疗保障局",
    "市场监管局": "市场监督管理局",
    "应急局": "应急管理局",
    "交通局": "交通运输局",
    "文旅广体局": "文化旅游广电体育局",
    "文旅局": "文化旅游局",
    "城管执法局": "城市管理和综合执法局",
    "城管局": "城市管理和综合执法局",
    "科工局": "科学技术和工业信息化局",
    "工信局": "工业和信息化局",
    "科技局": "科学技术局",
    "金融办": "金融工作办公室",
    "供销社": "供销合作社",
    "民宗局": "民族宗教事务局",
    "退役军人局": "退役军人事务局",
    "行政审批局": "行政审批服务局",
    "政务局": "政务服务中心",
    "国资局": "国有资产监督管理局",
}


# Cores that already are the full official name (林业局 is 林业局).
ALREADY_FULL = frozenset(
    {
        "教育局", "公安局", "民政局", "司法局", "财政局", "自然资源局", "生态环境局",
        "交通运输局", "水利局", "农业农村局", "林业局", "商务局", "审计局", "统计局",
        "信访局", "应急管理局", "市场监督管理局", "医疗保障局", "卫生健康局", "档案馆",
        "消防救援大队", "烟草专卖局", "融媒体中心", "气象局", "税务局", "人民武装部",
        "住房和城乡建设局", "人力资源和社会保障局", "发展和改革局", "退役军人事务局",
    }
)  # fmt: skip


def is_full(core: str) -> bool:
    """Whether a department's core name is already its full official name."""
    return core in ALREADY_FULL or core in FULL_NAMES.values()


def full_name(core: str) -> str | None:
    """The full official core name for a short one (人社局 -> 人力资源和社会保障局), or None."""
    return FULL_NAMES.get(core)
