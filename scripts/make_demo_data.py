"""Generate a small synthetic corpus of Chinese TCM drug leaflets (中药说明书) in brat format.

The documents imitate the layout of real leaflets (section headers such as 【功能主治】,
full-width punctuation, numbered precautions, dosage units, approval numbers, company
addresses) but every sentence is produced from hand-written templates and vocabulary in
this file; no real leaflet text is used.

Output layout (``--out``, default ``data/demo``)::

    labeled/<id>.txt     leaflet text (UTF-8, no BOM, no trailing newline)
    labeled/<id>.ann     brat standoff: ``T<k>\\t<TYPE> <start> <end>\\t<surface>``
    unlabeled/<id>.txt   leaflet text only
    lexicon.tsv          example external lexicon (``data.lexicon_file``), hand-written
    jieba_user_dict.txt  example jieba user dictionary (``mask.jieba_user_dict``), hand-written
    README.md            provenance note

Offsets are Python character offsets into the ``.txt`` (end exclusive) and spans never
overlap.  Generation is fully determined by ``--seed`` and the document counts: every
document gets its own ``random.Random`` seeded from (seed, id), so reruns are byte-identical.

Usage::

    python scripts/make_demo_data.py --out data/demo --seed 0 --labeled 240 --unlabeled 120
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Segment = tuple[str, str | None]

ENTITY_TYPES: tuple[str, ...] = (
    "SYMPTOM",
    "DRUG_EFFICACY",
    "PERSON_GROUP",
    "SYNDROME",
    "DRUG_TASTE",
    "DISEASE",
    "DRUG_INGREDIENT",
    "FOOD_GROUP",
    "DISEASE_GROUP",
    "DRUG_DOSAGE",
    "DRUG",
    "FOOD",
    "DRUG_GROUP",
)

# --------------------------------------------------------------------------------------
# Vocabulary.  Pools are ordered from most to least common; sampling is Zipf-like.
# --------------------------------------------------------------------------------------

VOCAB: dict[str, tuple[str, ...]] = {
    "SYMPTOM": (
        "头痛", "头晕", "咳嗽", "乏力", "恶心呕吐", "腹胀", "便溏", "失眠", "心悸", "口干",
        "咽喉肿痛", "发热", "恶寒", "鼻塞", "流涕", "腹痛", "腹泻", "便秘", "食欲不振",
        "月经不调", "痛经", "腰膝酸软", "神疲乏力", "气短", "自汗", "盗汗", "目眩", "耳鸣",
        "多梦", "健忘", "咽干", "咳痰", "痰多", "呕吐", "腹胀便溏", "纳差", "胃脘胀痛",
        "嗳气", "反酸", "胸闷", "胸痛", "畏寒肢冷", "经量过多", "白带量多", "小便不利",
        "尿频", "面色萎黄", "皮疹", "瘙痒", "口苦", "烦躁", "腰痛", "关节疼痛", "肢体麻木",
        "水肿", "口舌生疮", "胁肋胀痛", "头晕目眩", "失眠多梦",
    ),
    "DRUG_EFFICACY": (
        "清热解毒", "补气养血", "活血化瘀", "疏肝理气", "健脾和胃", "滋阴补肾", "益气健脾",
        "养血安神", "宁心安神", "清肺止咳", "化痰止咳", "宣肺解表", "疏风解表", "消食导滞",
        "温中散寒", "理气止痛", "祛风除湿", "通络止痛", "润肠通便", "清热利湿", "利水消肿",
        "凉血止血", "调经止痛", "滋阴降火", "平肝潜阳", "益气养阴", "清利咽喉", "消肿止痛",
        "舒筋活络", "和胃止呕", "生津止渴", "补中益气", "温肾助阳", "散结消肿", "疏风清热",
        "健脾消食",
    ),
    "PERSON_GROUP": (
        "孕妇", "儿童", "哺乳期妇女", "年老体弱者", "老人", "婴幼儿", "小儿", "过敏体质者",
        "体弱者", "青春期少女", "更年期妇女", "月经期妇女", "运动员", "驾驶员", "高空作业者",
        "妇女", "新生儿", "素体虚寒者", "老年人",
    ),
    "SYNDROME": (
        "风热感冒", "气血两虚证", "肝郁气滞", "脾胃虚弱", "风寒感冒", "肝肾阴虚", "气滞血瘀",
        "阴虚火旺", "肾阳不足", "湿热下注", "肺热咳嗽", "痰热壅肺", "心脾两虚", "中气下陷",
        "寒凝血瘀", "肝胆湿热", "脾虚湿盛", "肝阳上亢", "胃热炽盛", "外感风热", "气阴两虚",
        "风寒湿痹", "肾阴亏虚", "脾肾阳虚", "食积内停",
    ),
    "SMELL": ("气微", "气香", "气芳香", "气清香", "气微香"),
    "TASTE": (
        "味甘", "味苦", "味微苦", "味辛", "味酸", "味微甜", "味甜", "味淡", "味涩",
        "味咸", "味辛凉", "味微酸", "味酸甜", "味微辛",
    ),
    "DISEASE": (
        "高血压", "糖尿病", "感冒", "慢性胃炎", "慢性咽炎", "支气管炎", "冠心病", "心绞痛",
        "失眠症", "功能性消化不良", "慢性肝炎", "痛风", "类风湿关节炎", "骨关节炎", "胃溃疡",
        "十二指肠溃疡", "慢性结肠炎", "痔疮", "盆腔炎", "乳腺增生", "前列腺增生", "神经衰弱",
        "扁桃体炎", "口腔溃疡", "荨麻疹", "湿疹", "贫血", "高脂血症", "颈椎病", "肩周炎",
        "腰肌劳损", "上呼吸道感染", "流行性感冒", "急性胃肠炎",
    ),
    "DRUG_INGREDIENT": (
        "当归", "黄芪", "甘草", "川芎", "白芍", "茯苓", "党参", "白术", "熟地黄", "陈皮",
        "柴胡", "半夏", "薄荷", "金银花", "连翘", "板蓝根", "黄芩", "黄连", "丹参", "红花",
        "桃仁", "枸杞子", "山药", "山茱萸", "牡丹皮", "泽泻", "菊花", "桔梗", "苦杏仁",
        "麦冬", "五味子", "酸枣仁", "远志", "木香", "砂仁", "香附", "益母草", "延胡索",
        "大黄", "枳壳", "厚朴", "大枣",
    ),
    "TASTE2": ("微苦", "微辛", "微酸", "微甜", "微涩"),
    "EXCIPIENT": ("蔗糖", "糊精", "淀粉"),
    "CHRONIC": ("高血压", "糖尿病", "冠心病", "高脂血症", "慢性肝炎", "慢性胃炎"),
    "ORGAN_DG": ("心脏病", "肝病", "肾病", "血液病", "心血管疾病", "呼吸系统疾病"),
    "FOOD_GROUP": (
        "辛辣", "生冷", "油腻食物", "辛辣食物", "油腻", "生冷食物", "辛辣刺激性食物", "海鲜",
        "腥膻食物", "发物", "刺激性食物", "甜食", "酒类", "鱼虾", "不易消化食物", "寒凉食物",
        "肥甘厚味",
    ),
    "DISEASE_GROUP": (
        "心脏病", "肝病", "肾病", "慢性病", "严重慢性病", "心血管疾病", "出血性疾病", "血液病",
        "精神疾病", "呼吸系统疾病", "皮肤病", "传染病", "妇科疾病", "胃肠道疾病",
        "过敏性疾病", "慢性疾病", "消化道疾病", "肝肾功能不全",
    ),
    "FOOD": (
        "萝卜", "浓茶", "咖啡", "绿豆", "白酒", "螃蟹", "羊肉", "辣椒", "大蒜", "生葱",
        "西瓜", "柿子", "牛奶", "蜂蜜", "黄酒", "茶叶", "狗肉", "鸡蛋",
    ),
    "DRUG_GROUP": (
        "感冒类药", "滋补性中药", "温补性中药", "抗生素类药", "降糖药", "降压药", "抗凝血药",
        "泻下药", "寒凉性药物", "镇静安眠药", "解热镇痛药", "西药",
    ),
}

# Pools whose entity type differs from their name.
POOL_TYPE: dict[str, str] = {
    "SMELL": "DRUG_TASTE",
    "TASTE": "DRUG_TASTE",
    "TASTE2": "DRUG_TASTE",
    "CHRONIC": "DISEASE",
    "ORGAN_DG": "DISEASE_GROUP",
    "EXCIPIENT": "DRUG_INGREDIENT",
    "DOSAGE": "DRUG_DOSAGE",
    "DOSAGE2": "DRUG_DOSAGE",
}

# (name, pinyin, form)
DRUGS: tuple[tuple[str, str, str], ...] = (
    ("六味地黄丸", "Liuwei Dihuang Wan", "pill"),
    ("板蓝根颗粒", "Banlangen Keli", "granule"),
    ("逍遥丸", "Xiaoyao Wan", "pill"),
    ("感冒清热颗粒", "Ganmao Qingre Keli", "granule"),
    ("小柴胡颗粒", "Xiaochaihu Keli", "granule"),
    ("复方丹参片", "Fufang Danshen Pian", "tablet"),
    ("藿香正气水", "Huoxiang Zhengqi Shui", "liquid"),
    ("乌鸡白凤丸", "Wuji Baifeng Wan", "pill"),
    ("补中益气丸", "Buzhong Yiqi Wan", "pill"),
    ("银翘解毒片", "Yinqiao Jiedu Pian", "tablet"),
    ("益母草颗粒", "Yimucao Keli", "granule"),
    ("归脾丸", "Guipi Wan", "pill"),
    ("八珍颗粒", "Bazhen Keli", "granule"),
    ("香砂养胃丸", "Xiangsha Yangwei Wan", "pill"),
    ("保和丸", "Baohe Wan", "pill"),
    ("牛黄解毒片", "Niuhuang Jiedu Pian", "tablet"),
    ("双黄连口服液", "Shuanghuanglian Koufuye", "liquid"),
    ("川贝枇杷糖浆", "Chuanbei Pipa Tangjiang", "liquid"),
    ("杞菊地黄丸", "Qiju Dihuang Wan", "pill"),
    ("知柏地黄丸", "Zhibai Dihuang Wan", "pill"),
    ("桂枝茯苓胶囊", "Guizhi Fuling Jiaonang", "capsule"),
    ("养血安神片", "Yangxue Anshen Pian", "tablet"),
    ("清开灵颗粒", "Qingkailing Keli", "granule"),
    ("连花清瘟胶囊", "Lianhua Qingwen Jiaonang", "capsule"),
    ("安神补脑液", "Anshen Bunao Ye", "liquid"),
    ("通宣理肺丸", "Tongxuan Lifei Wan", "pill"),
    ("妇科千金片", "Fuke Qianjin Pian", "tablet"),
    ("复方鲜竹沥液", "Fufang Xianzhuli Ye", "liquid"),
    ("脑心通胶囊", "Naoxintong Jiaonang", "capsule"),
    ("舒肝和胃丸", "Shugan Hewei Wan", "pill"),
)

DOSAGE_BY_FORM: dict[str, tuple[str, ...]] = {
    "granule": ("颗粒", "颗粒剂"),
    "pill": ("水蜜丸", "大蜜丸", "浓缩丸", "小蜜丸", "水丸", "丸剂"),
    "tablet": ("薄膜衣片", "糖衣片", "片剂", "浸膏片"),
    "capsule": ("胶囊", "硬胶囊", "胶囊剂", "软胶囊"),
    "liquid": ("口服液", "合剂", "糖浆"),
}
FORMS: tuple[str, ...] = ("granule", "pill", "tablet", "capsule", "liquid")

COLORS: tuple[str, ...] = (
    "棕褐色", "黄棕色", "棕黄色", "浅黄色", "黑褐色", "棕红色", "红棕色", "黄褐色", "浅棕色",
    "棕黑色", "深棕色", "灰褐色",
)
CITIES: tuple[str, ...] = (
    "北京", "天津", "吉林", "广州", "成都", "杭州", "哈尔滨", "石家庄", "太原", "昆明",
    "贵阳", "兰州", "南昌", "济南", "西安", "长沙", "武汉", "重庆",
)
FIRM_WORDS: tuple[str, ...] = (
    "康源", "恒德", "瑞丰", "万寿", "华康", "泰丰", "九和", "汇春", "天佑", "宏济", "德济",
    "春和", "永安", "济民", "益康", "同善",
)
FIRM_KINDS: tuple[str, ...] = ("制药有限公司", "药业有限公司", "药业股份有限公司", "制药厂")
ROADS: tuple[str, ...] = ("建设", "人民", "解放", "工业", "长江", "科技", "新华", "和平")
PHARM_NOTES: tuple[str, ...] = (
    "本品可抑制大鼠角叉菜胶所致足跖肿胀。",
    "本品能提高小鼠热板法痛阈值，减少醋酸所致扭体反应次数。",
    "体外试验表明，本品对金黄色葡萄球菌、乙型溶血性链球菌有一定抑制作用。",
    "本品可降低大鼠全血黏度，改善微循环。",
    "本品能增强小鼠腹腔巨噬细胞吞噬功能。",
    "本品能延长小鼠引咳潜伏期，增加气管酚红排泌量。",
    "本品可促进小鼠小肠推进运动。",
    "本品能降低高脂饲料喂养大鼠血清总胆固醇和甘油三酯水平。",
    "本品可缩短小鼠断尾后的凝血时间。",
    "本品能延长小鼠常压耐缺氧存活时间。",
    "本品可减少大鼠醋酸型胃黏膜损伤面积。",
)

PLACEHOLDER = re.compile(r"\{([A-Z_0-9]+)(?:=([^}]+))?\}")
FULLWIDTH_OFFSET = 0xFEE0
NUMBER_MARKS: tuple[str, ...] = ("{n}．", "{n}.", "{n}、", "（{n}）")

# --------------------------------------------------------------------------------------
# Templates.  ``{POOL}`` draws an entity from a pool, ``{POOL=surface}`` inserts a fixed one.
# Plain template text must never contain a vocabulary surface.
# --------------------------------------------------------------------------------------

INDICATION_TEMPLATES: tuple[str, ...] = (
    "{DRUG_EFFICACY}，{DRUG_EFFICACY}。用于{SYNDROME}所致的{SYMPTOM}、{SYMPTOM}、{SYMPTOM}；"
    "{DISEASE}见上述证候者。",
    "{DRUG_EFFICACY}，{DRUG_EFFICACY}。用于{SYNDROME}，症见{SYMPTOM}、{SYMPTOM}、{SYMPTOM}、"
    "{SYMPTOM}；{DISEASE}见上述证候者。",
    "{DRUG_EFFICACY}，{DRUG_EFFICACY}。用于{DISEASE}、{DISEASE}属{SYNDROME}者，症见{SYMPTOM}、"
    "{SYMPTOM}。",
    "{DRUG_EFFICACY}，{DRUG_EFFICACY}，{DRUG_EFFICACY}。用于{SYNDROME}，{SYMPTOM}，{SYMPTOM}，"
    "{SYMPTOM}。",
    "{DRUG_EFFICACY}，{DRUG_EFFICACY}，{DRUG_EFFICACY}。主治{SYNDROME}，{SYMPTOM}、{SYMPTOM}，"
    "{SYMPTOM}等。",
    "{DRUG_EFFICACY}，{DRUG_EFFICACY}。用于{SYNDROME}引起的{SYMPTOM}、{SYMPTOM}、{SYMPTOM}、"
    "{SYMPTOM}。",
    "{DRUG_EFFICACY}，{DRUG_EFFICACY}。用于{SYNDROME}，{SYMPTOM}，{SYMPTOM}，{SYMPTOM}；{DISEASE}、"
    "{DISEASE}见上述证候者。",
    "{DRUG_EFFICACY}，{DRUG_EFFICACY}，{DRUG_EFFICACY}。用于{SYNDROME}所致的{SYMPTOM}、{SYMPTOM}。",
)
INDICATION_EXTRAS: tuple[str, ...] = (
    "亦可用于{DISEASE}、{DISEASE}的辅助治疗。",
    "兼能{DRUG_EFFICACY}，{DRUG_EFFICACY}。",
    "伴有{SYMPTOM}、{SYMPTOM}者尤宜。",
    "对{SYNDROME}所致{SYMPTOM}亦有一定疗效。",
)
ADVERSE_TEMPLATES: tuple[str, ...] = (
    "尚不明确。",
    "偶见{SYMPTOM}、{SYMPTOM}等，停药后可自行缓解。",
    "个别患者服药后出现{SYMPTOM}、{SYMPTOM}、{SYMPTOM}，一般不影响继续用药。",
    "偶见{SYMPTOM}，{SYMPTOM}。",
    "尚不明确。",
)
CONTRA_TEMPLATES: tuple[str, ...] = (
    "{PERSON_GROUP}禁用。",
    "{PERSON_GROUP}、{PERSON_GROUP}禁用。",
    "{PERSON_GROUP}禁用；对本品过敏者禁用。",
    "尚不明确。",
    "{PERSON_GROUP}忌服；{DISEASE_GROUP}者禁用。",
    "{SYNDROME}者禁用。",
    "{SYNDROME}、{SYNDROME}者忌用。",
)
NOTE_TEMPLATES: tuple[tuple[str, float], ...] = (
    ("忌烟、酒及{FOOD_GROUP}、{FOOD_GROUP}、{FOOD_GROUP}。", 2.8),
    ("忌食{FOOD_GROUP}、{FOOD_GROUP}。", 1.2),
    ("{CHRONIC}、{ORGAN_DG}、{ORGAN_DG}、{CHRONIC}、{ORGAN_DG}等"
     "{DISEASE_GROUP=慢性病}严重者应在医师指导下服用。", 2.3),
    ("{PERSON_GROUP}、{PERSON_GROUP}应在医师指导下服用。", 2.4),
    ("{PERSON_GROUP=儿童}必须在成人监护下使用。", 1.6),
    ("请将本品放在{PERSON_GROUP=儿童}不能接触的地方。", 1.6),
    ("服药3天症状无缓解，应去医院就诊。", 2.0),
    ("服药期间出现{SYMPTOM}、{SYMPTOM}、{SYMPTOM}等症状时，应去医院就诊。", 1.4),
    ("{SYNDROME}者不适用，其表现为{SYMPTOM}、{SYMPTOM}、{SYMPTOM}。", 1.8),
    ("对本品过敏者禁用，{PERSON_GROUP}慎用。", 1.5),
    ("本品性状发生改变时禁止使用。", 2.0),
    ("如正在使用其他药品，使用本品前请咨询医师或药师。", 2.0),
    ("严格按用法用量服用，本品不宜长期服用。", 1.2),
    ("不宜在服药期间同时服用{DRUG_GROUP}。", 0.9),
    ("服用{DRUG_GROUP}的患者，应在医师指导下服用本品。", 0.4),
    ("服药期间不宜同时食用{FOOD}、{FOOD}。", 0.9),
    ("服药期间不宜喝{FOOD}。", 0.7),
    ("本品不宜与{DRUG}同时服用。", 0.35),
    ("{DISEASE}患者应在医师指导下服用。", 1.6),
    ("{SYMPTOM}较重者应及时去医院就诊。", 1.0),
    ("{SYNDROME}所致{SYMPTOM}者不宜使用。", 1.2),
    ("本品含{DRUG_INGREDIENT}，{PERSON_GROUP}慎用。", 0.6),
    ("宜饭前服用。", 0.8),
    ("{PERSON_GROUP}应在医师指导下服用，{PERSON_GROUP}禁用。", 1.2),
    ("本品{DRUG_EFFICACY}，{SYNDROME}者慎用。", 1.2),
    ("服药期间要保持情绪乐观，切忌生气恼怒。", 0.6),
    ("{DISEASE_GROUP}患者慎用。", 0.5),
)
STORAGE: tuple[str, ...] = ("密封。", "密封，置阴凉干燥处。", "密闭，防潮。", "遮光，密封。",
                            "密封，置阴凉处（不超过20℃）。")
EXPIRY: tuple[str, ...] = ("24个月", "36个月", "18个月", "暂定24个月", "3年", "2年")
STANDARDS: tuple[str, ...] = (
    "《中华人民共和国药典》{y}年版一部",
    "国家药品监督管理局标准WS3-{a}(Z-{b})-{y}Z",
    "部颁标准中药成方制剂第{c}册",
)


@dataclass(frozen=True)
class Document:
    """A generated leaflet: plain text plus non-overlapping entity spans."""

    text: str
    spans: tuple[tuple[int, int, str, str], ...]


@dataclass(frozen=True)
class Profile:
    """Per-document choices shared by all sections."""

    drug: tuple[str, str, str] | None
    form: str
    multiline: bool
    long: bool
    very_long: bool
    bracket_style: str
    number_mark: str


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def zipf_choice(rng: random.Random, items: Sequence[str]) -> str:
    """Pick from ``items`` with weights decaying with rank (earlier items are commoner)."""
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(items))]
    return rng.choices(list(items), weights=weights, k=1)[0]


def conflicts(candidate: str, chosen: Sequence[str]) -> bool:
    """True when ``candidate`` equals, contains or is contained in an already chosen value."""
    return any(candidate in other or other in candidate for other in chosen)


def pool_type(pool: str) -> str:
    """Entity type emitted for a vocabulary pool name."""
    return POOL_TYPE.get(pool, pool)


def fill(
    rng: random.Random,
    template: str,
    pools: Mapping[str, Sequence[str]],
) -> list[Segment]:
    """Expand ``template`` into segments, sampling distinct entity surfaces per pool."""
    segments: list[Segment] = []
    matches = list(PLACEHOLDER.finditer(template))
    chosen: list[str] = [m.group(2) for m in matches if m.group(2) is not None]
    cursor = 0
    for match in matches:
        if match.start() > cursor:
            segments.append((template[cursor:match.start()], None))
        pool, fixed = match.group(1), match.group(2)
        if fixed is None:
            candidates = [v for v in pools[pool] if not conflicts(v, chosen)]
            fixed = zipf_choice(rng, candidates)
            chosen.append(fixed)
        segments.append((fixed, pool_type(pool)))
        cursor = match.end()
    if cursor < len(template):
        segments.append((template[cursor:], None))
    return segments


def plain(text: str) -> list[Segment]:
    """A segment list holding unannotated text."""
    return [(text, None)]


def to_fullwidth(text: str) -> str:
    """Convert ASCII letters and digits to their full-width forms (e.g. GMP -> ＧＭＰ)."""
    return "".join(chr(ord(c) + FULLWIDTH_OFFSET) if c.isascii() and c.isalnum() else c
                   for c in text)


def widen_plain(rng: random.Random, segments: list[Segment], prob: float = 0.08
                ) -> list[Segment]:
    """Occasionally render ASCII alphanumerics of plain segments full-width (１０ｍｌ)."""
    if rng.random() >= prob:
        return segments
    return [(text if label else to_fullwidth(text), label) for text, label in segments]


def digits(rng: random.Random, count: int) -> str:
    """A string of ``count`` random decimal digits."""
    return "".join(str(rng.randrange(10)) for _ in range(count))


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


def section_name(rng: random.Random, header: str) -> str:
    """Occasional wording variants of a section header."""
    variants = {
        "成份": ("成份", "成份", "成份", "主要成份"),
        "用法用量": ("用法用量", "用法用量", "用法与用量"),
        "功能主治": ("功能主治", "功能主治", "功能主治", "功能与主治"),
    }
    return rng.choice(variants.get(header, (header,)))


def render_header(rng: random.Random, header: str, style: str) -> str:
    """Render a section header in the document's bracket style."""
    name = section_name(rng, header)
    if style == "bracket":
        return f"【{name}】"
    if style == "colon":
        return f"{name}："
    return f"{name} "


def sec_name(rng: random.Random, prof: Profile) -> list[Segment]:
    """【药品名称】 with generic name and pinyin."""
    assert prof.drug is not None
    name, pinyin, _ = prof.drug
    gap = rng.choice(("\u3000", " ", "  ", "；"))
    return [("通用名称：", None), (name, "DRUG"), (f"{gap}汉语拼音：{pinyin}", None)]


def sec_ingredients(rng: random.Random, prof: Profile) -> list[Segment]:
    """【成份】 herb list, sometimes with excipients."""
    if prof.very_long:
        count = rng.randint(5, 8)
    else:
        count = rng.randint(2, 5) if prof.long else rng.randint(1, 3)
    template = "、".join(["{DRUG_INGREDIENT}"] * count) + "。"
    segs = fill(rng, template, VOCAB)
    if rng.random() < 0.2:
        segs += fill(rng, "辅料为{EXCIPIENT}、{EXCIPIENT}。", VOCAB)
    return segs


def sec_appearance(rng: random.Random, prof: Profile, pools: Mapping[str, Sequence[str]]
                   ) -> list[Segment]:
    """【性状】 colour, dosage form and smell/taste."""
    color = rng.choice(COLORS)
    if prof.form == "tablet":
        body = "本品为{DOSAGE}，除去包衣后显" + color
    elif prof.form == "capsule":
        body = "本品为{DOSAGE}，内容物为" + color + "的粉末"
    elif prof.form == "liquid":
        body = "本品为" + color + "的液体"
    else:
        body = "本品为" + color + "的{DOSAGE}"
    taste = rng.choice(("{SMELL}，{TASTE}", "{SMELL}，{TASTE}、{TASTE2}", "{TASTE}",
                        "{TASTE}、{TASTE2}", "{SMELL}，{TASTE}"))
    return fill(rng, f"{body}；{taste}。", pools)


def sec_indication(rng: random.Random, prof: Profile) -> list[Segment]:
    """【功能主治】 efficacy, syndrome, symptoms and diseases."""
    segs = fill(rng, rng.choice(INDICATION_TEMPLATES), VOCAB)
    extras = 2 if prof.very_long else int(prof.long and rng.random() < 0.6)
    for template in rng.sample(INDICATION_EXTRAS, extras):
        segs += fill(rng, template, VOCAB)
    return segs


def dose_text(rng: random.Random, prof: Profile) -> str:
    """Core dose instruction for the document's dosage form."""
    times = rng.choice((2, 2, 3, 3, 3))
    if prof.form == "granule":
        return f"开水冲服，一次{rng.choice((1, 1, 2))}袋，一日{times}次。"
    if prof.form == "pill":
        grams = rng.choice((6, 9))
        if rng.random() < 0.5:
            return f"口服，一次{rng.choice((6, 8, 10))}丸，一日{times}次。"
        return f"口服。{{DOSAGE=水蜜丸}}一次{grams}g，{{DOSAGE=大蜜丸}}一次1丸，一日{times}次。"
    if prof.form == "tablet":
        return f"口服，一次{rng.choice((2, 3, 4))}片，一日{times}次。"
    if prof.form == "capsule":
        return f"口服，一次{rng.choice((2, 3, 4))}粒，一日{times}次。"
    return f"口服，一次{rng.choice((10, 10, 15, 20))}ml，一日{times}次；用时摇匀。"


def sec_usage(rng: random.Random, prof: Profile, pools: Mapping[str, Sequence[str]]
              ) -> list[Segment]:
    """【用法用量】 dose plus optional population remark."""
    template = dose_text(rng, prof)
    roll = rng.random()
    if roll < 0.25:
        template += "{PERSON_GROUP}酌减。"
    elif roll < 0.4:
        template += "{PERSON_GROUP}用量请咨询医师或药师。"
    elif roll < 0.5:
        template += "或遵医嘱。"
    return fill(rng, template, pools)


def sec_adverse(rng: random.Random) -> list[Segment]:
    """【不良反应】"""
    return fill(rng, rng.choice(ADVERSE_TEMPLATES), VOCAB)


def sec_contra(rng: random.Random) -> list[Segment]:
    """【禁忌】"""
    return fill(rng, rng.choice(CONTRA_TEMPLATES), VOCAB)


def sec_notes(rng: random.Random, prof: Profile) -> list[Segment]:
    """【注意事项】 a numbered list of precautions."""
    if prof.very_long:
        count = rng.randint(14, 18)
    else:
        count = rng.randint(6, 10) if prof.long else rng.randint(2, 5)
    templates = [t for t, _ in NOTE_TEMPLATES]
    weights = [w for _, w in NOTE_TEMPLATES]
    picked: list[str] = []
    while len(picked) < count:
        choice = rng.choices(templates, weights=weights, k=1)[0]
        if choice not in picked:
            picked.append(choice)
    joiner = "\n" if prof.multiline and rng.random() < 0.5 else rng.choice(("", "", " "))
    pools = {**VOCAB, "DRUG": [d[0] for d in DRUGS if prof.drug is None or d != prof.drug]}
    segs: list[Segment] = []
    for index, template in enumerate(picked, start=1):
        if index > 1:
            segs.append((joiner, None))
        segs.append((prof.number_mark.format(n=index), None))
        segs += fill(rng, template, pools)
    return segs


def sec_spec(rng: random.Random, prof: Profile) -> list[Segment]:
    """【规格】"""
    form = prof.form
    if form == "granule":
        text = rng.choice(("每袋装{g}g", "每袋装{g}g（无糖型）", "每袋装{g}g（相当于饮片{h}g）"))
        text = text.format(g=rng.choice((3, 5, 6, 10, 12, 15)), h=rng.choice((10, 12, 15)))
    elif form == "pill":
        text = rng.choice(("每丸重9g", "每8丸相当于原药材3g", "{DOSAGE=水蜜丸}每100丸重20g"))
    elif form == "tablet":
        text = f"每片重{rng.choice(('0.25', '0.3', '0.35', '0.5'))}g"
    elif form == "capsule":
        text = f"每粒装{rng.choice(('0.25', '0.3', '0.35', '0.4', '0.5'))}g"
    else:
        text = rng.choice(("每支装10ml", "每瓶装100ml", "每瓶装120ml", "每支装20ml"))
    return widen_plain(rng, fill(rng, text, {"DOSAGE": DOSAGE_BY_FORM[form]}))


def sec_storage(rng: random.Random) -> list[Segment]:
    """【贮藏】"""
    return plain(rng.choice(STORAGE))


def sec_package(rng: random.Random, prof: Profile) -> list[Segment]:
    """【包装】 with counts such as 0.3g*12片*2板."""
    form = prof.form
    if form == "granule":
        text = f"复合膜袋装，每盒装{rng.choice((6, 9, 10, 12, 20))}袋。"
    elif form == "pill":
        text = rng.choice(("塑料瓶装，每瓶装60g。", "蜡壳包装，每盒装10丸。", "每盒装10袋。"))
    elif form == "tablet":
        weight = rng.choice(("0.25", "0.3", "0.5"))
        text = f"铝塑泡罩包装，{weight}g*{rng.choice((12, 24))}片*{rng.choice((1, 2, 3))}板/盒。"
    elif form == "capsule":
        text = f"铝塑板装，每板{rng.choice((10, 12))}粒，每盒{rng.choice((2, 3, 4))}板。"
    else:
        text = rng.choice(("每盒装10支。", "棕色玻璃瓶装，每瓶100ml。", "每盒装6支。"))
    return widen_plain(rng, plain(text), 0.05)


def sec_expiry(rng: random.Random) -> list[Segment]:
    """【有效期】"""
    return plain(rng.choice(EXPIRY))


def sec_approval(rng: random.Random) -> list[Segment]:
    """【批准文号】 such as 国药准字Z12345678."""
    number = f"国药准字Z{rng.choice(('1', '2'))}{digits(rng, 7)}"
    if rng.random() < 0.15:
        number += rng.choice(("（甲类）", "（乙类）"))
    return plain(number)


def sec_company(rng: random.Random, prof: Profile) -> list[Segment]:
    """【生产企业】, for very long leaflets preceded by a marketing-authorisation holder."""
    sep = "\n" if prof.multiline else rng.choice((" ", "  ", "\u3000"))
    blocks = [company_block(rng, prof, sep)]
    if prof.very_long and rng.random() < 0.6:
        blocks.insert(0, "上市许可持有人：" + company_block(rng, prof, sep)[len("企业名称："):])
    return plain(sep.join(blocks))


def company_block(rng: random.Random, prof: Profile, sep: str) -> str:
    """A fictional manufacturer with optional address, phone and web lines."""
    city = rng.choice(CITIES)
    name = city + rng.choice(FIRM_WORDS) + rng.choice(FIRM_KINDS)
    parts = [f"企业名称：{name}"]
    if prof.long or rng.random() < 0.3:
        parts.append(f"生产地址：{city}市{rng.choice(ROADS)}路{rng.randint(1, 399)}号")
        parts.append(f"邮政编码：{rng.randint(1, 8)}{digits(rng, 5)}")
        parts.append(f"电话号码：0{rng.randint(10, 99)}-{rng.randint(2, 8)}{digits(rng, 7)}")
    if prof.very_long or (prof.long and rng.random() < 0.5):
        parts.append(f"传真号码：0{rng.randint(10, 99)}-{rng.randint(2, 8)}{digits(rng, 7)}")
        letters = "".join(rng.choice("abcdefghjkmnpqrstwxyz") for _ in range(rng.randint(3, 6)))
        parts.append(f"网址：www.{letters}yy.com")
    return sep.join(parts)


def sec_pharmacology(rng: random.Random) -> list[Segment]:
    """【药理毒理】 plain laboratory remarks (long documents only)."""
    notes = rng.sample(PHARM_NOTES, rng.randint(3, 8))
    dose = rng.choice((30, 45, 60, 90, 120))
    times = rng.choice((100, 150, 200, 300))
    notes.append(f"急性毒性试验：小鼠灌胃给药的最大耐受量为每公斤体重{dose}g生药，"
                 f"相当于临床日用量的{times}倍。")
    return plain("".join(notes))


def sec_trial(rng: random.Random) -> list[Segment]:
    """【临床试验】 a templated trial summary (very long documents only)."""
    treated, control = rng.randint(60, 240), rng.randint(30, 120)
    rate, base = rng.randint(80, 95), rng.randint(60, 79)
    template = (
        "采用随机、双盲、阳性药平行对照、多中心临床试验，观察本品治疗{DISEASE}（{SYNDROME}）"
        f"的有效性和安全性。共入组病例{treated + control}例，其中试验组{treated}例，"
        f"对照组{control}例。结果显示，试验组总有效率为{rate}.{rng.randint(0, 9)}%，"
        f"对照组为{base}.{rng.randint(0, 9)}%；试验组对{{SYMPTOM}}、{{SYMPTOM}}等症状的改善"
        "优于对照组。试验期间个别病例出现{SYMPTOM}，未见与药物相关的严重不良事件；"
        f"不良事件发生率试验组为{rng.randint(1, 6)}.{rng.randint(0, 9)}%，"
        f"对照组为{rng.randint(1, 6)}.{rng.randint(0, 9)}%，差异无统计学意义。"
    )
    return fill(rng, template, VOCAB)


def sec_interaction(rng: random.Random) -> list[Segment]:
    """【药物相互作用】"""
    return plain("如与其他药物同时使用可能会发生药物相互作用，详情请咨询医师或药师。")


def sec_standard(rng: random.Random) -> list[Segment]:
    """【执行标准】"""
    text = rng.choice(STANDARDS).format(
        y=rng.choice((2010, 2015, 2020)), a=rng.randint(10, 999), b=rng.randint(100, 999),
        c=rng.choice(("一", "三", "五", "八", "十二", "十五")),
    )
    return plain(text)


def sec_revision(rng: random.Random) -> list[Segment]:
    """【说明书修订日期】"""
    year = rng.randint(2007, 2022)
    return plain(f"{year}年{rng.randint(1, 12):02d}月{rng.randint(1, 28):02d}日")


def preamble(rng: random.Random, prof: Profile) -> list[Segment]:
    """Optional leaflet title line and OTC notice."""
    segs: list[Segment] = []
    if prof.drug is not None and rng.random() < 0.35:
        segs += [(prof.drug[0], "DRUG"), ("说明书", None)]
    if rng.random() < 0.3:
        if segs:
            segs.append(("\u3000", None))
        otc = rng.choice(("OTC", "ＯＴＣ", "非处方药"))
        segs.append((f"{otc}{rng.choice(('（甲类）', '（乙类）'))}　请仔细阅读说明书并按说明使用"
                     "或在药师指导下购买和使用", None))
    if rng.random() < 0.05:
        segs.append(("　本品通过国家ＧＭＰ认证", None))
    return segs


# --------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------


def make_profile(rng: random.Random) -> Profile:
    """Draw the document-level choices."""
    drug = rng.choice(DRUGS) if rng.random() < 0.5 else None
    form = drug[2] if drug is not None else rng.choice(FORMS)
    long = rng.random() < 0.26
    style = rng.choices(("bracket", "colon", "plain"), weights=(0.82, 0.1, 0.08), k=1)[0]
    return Profile(
        drug=drug,
        form=form,
        multiline=rng.random() < 0.2,
        long=long,
        very_long=long and rng.random() < 0.3,
        bracket_style=style,
        number_mark=rng.choices(NUMBER_MARKS, weights=(0.6, 0.15, 0.15, 0.1), k=1)[0],
    )


def build_sections(rng: random.Random, prof: Profile) -> list[tuple[str, list[Segment]]]:
    """Generate (header, body) pairs in canonical leaflet order; '' header = no header."""
    dosage = DOSAGE_BY_FORM[prof.form]
    pools: dict[str, Sequence[str]] = {**VOCAB, "DOSAGE": dosage}
    bonus = 1.0 if prof.long else 0.0
    plan: list[tuple[str, float]] = [
        ("药品名称", 0.6 if prof.drug is not None else 0.0),
        ("成份", 0.3 + 0.4 * bonus),
        ("性状", 0.85 + 0.15 * bonus),
        ("功能主治", 0.97),
        ("用法用量", 0.9),
        ("不良反应", 0.55 + 0.4 * bonus),
        ("禁忌", 0.7),
        ("注意事项", 0.85 + 0.15 * bonus),
        ("药物相互作用", 0.1 + 0.5 * bonus),
        ("药理毒理", 0.9 if prof.very_long else 0.0),
        ("临床试验", 0.8 if prof.very_long else 0.0),
        ("规格", 0.6),
        ("贮藏", 0.55),
        ("包装", 0.3 + 0.5 * bonus),
        ("有效期", 0.45),
        ("执行标准", 0.1 + 0.5 * bonus),
        ("批准文号", 0.55),
        ("说明书修订日期", 0.3 * bonus),
        ("生产企业", 0.45 + 0.5 * bonus),
    ]
    makers = {
        "药品名称": lambda: sec_name(rng, prof),
        "成份": lambda: sec_ingredients(rng, prof),
        "性状": lambda: sec_appearance(rng, prof, pools),
        "功能主治": lambda: sec_indication(rng, prof),
        "用法用量": lambda: sec_usage(rng, prof, pools),
        "不良反应": lambda: sec_adverse(rng),
        "禁忌": lambda: sec_contra(rng),
        "注意事项": lambda: sec_notes(rng, prof),
        "药物相互作用": lambda: sec_interaction(rng),
        "药理毒理": lambda: sec_pharmacology(rng),
        "临床试验": lambda: sec_trial(rng),
        "规格": lambda: sec_spec(rng, prof),
        "贮藏": lambda: sec_storage(rng),
        "包装": lambda: sec_package(rng, prof),
        "有效期": lambda: sec_expiry(rng),
        "执行标准": lambda: sec_standard(rng),
        "批准文号": lambda: sec_approval(rng),
        "说明书修订日期": lambda: sec_revision(rng),
        "生产企业": lambda: sec_company(rng, prof),
    }
    sections: list[tuple[str, list[Segment]]] = []
    intro = preamble(rng, prof)
    if intro:
        sections.append(("", intro))
    for header, prob in plan:
        if rng.random() < prob:
            sections.append((header, makers[header]()))
    return sections


def separator(rng: random.Random, prof: Profile) -> str:
    """Whitespace placed between two sections."""
    if prof.multiline:
        return "\n"
    roll = rng.random()
    if roll < 0.06:
        return "\u3000"
    if roll < 0.1:
        return " " * rng.randint(1, 3) + "\u3000" + " " * rng.randint(0, 2)
    return " " * rng.randint(2, 6)


def assemble(segments: Sequence[Segment]) -> Document:
    """Concatenate segments into text and compute entity character offsets."""
    pieces: list[str] = []
    spans: list[tuple[int, int, str, str]] = []
    offset = 0
    for text, label in segments:
        if label is not None:
            spans.append((offset, offset + len(text), label, text))
        pieces.append(text)
        offset += len(text)
    return Document(text="".join(pieces), spans=tuple(sorted(spans)))


def make_document(seed: int, doc_id: int) -> Document:
    """Generate one leaflet; depends only on (seed, doc_id)."""
    rng = random.Random(seed * 1_000_003 + doc_id)
    prof = make_profile(rng)
    segments: list[Segment] = []
    for index, (header, body) in enumerate(build_sections(rng, prof)):
        if index > 0:
            segments.append((separator(rng, prof), None))
        if header:
            segments.append((render_header(rng, header, prof.bracket_style), None))
        segments.extend(body)
    return assemble(segments)


def to_ann(doc: Document) -> str:
    """Serialise entity spans as brat standoff lines."""
    lines = [
        f"T{k}\t{label} {start} {end}\t{surface}\n"
        for k, (start, end, label, surface) in enumerate(doc.spans, start=1)
    ]
    return "".join(lines)


# --------------------------------------------------------------------------------------
# Example external resources (hand-written): surfaces of the vocabulary above and a few
# terms the generator never writes.
# --------------------------------------------------------------------------------------

EXAMPLE_LEXICON = """\
# Example external entity lexicon (params.yaml: data.lexicon_file): one surface<TAB>TYPE a
# line, merged with the lexicon of the train entities; blank and # lines are ignored.
感冒类药\tDRUG_GROUP
滋补性中药\tDRUG_GROUP
温补性中药\tDRUG_GROUP
抗生素类药\tDRUG_GROUP
降糖药\tDRUG_GROUP
降压药\tDRUG_GROUP
抗凝血药\tDRUG_GROUP
镇静安眠药\tDRUG_GROUP
解热镇痛药\tDRUG_GROUP
单胺氧化酶抑制剂\tDRUG_GROUP
阿司匹林\tDRUG
布洛芬\tDRUG
萝卜\tFOOD
浓茶\tFOOD
螃蟹\tFOOD
海鲜\tFOOD_GROUP
腥膻食物\tFOOD_GROUP
肝肾功能不全\tDISEASE_GROUP
出血性疾病\tDISEASE_GROUP
哮喘\tDISEASE
肺炎\tDISEASE
风寒束表\tSYNDROME
肝火上炎\tSYNDROME
止咳平喘\tDRUG_EFFICACY
清热泻火\tDRUG_EFFICACY
咽痛\tSYMPTOM
眩晕\tSYMPTOM
桑叶\tDRUG_INGREDIENT
葛根\tDRUG_INGREDIENT
"""

EXAMPLE_USER_DICT = """\
哺乳期妇女 20 n
年老体弱者 10 n
过敏体质者 10 n
青春期少女
更年期妇女
月经期妇女
高空作业者
素体虚寒者
气血两虚证 10 n
肝郁气滞 10 n
脾胃虚弱
风热感冒 20 n
风寒感冒 20 n
腰膝酸软 10 a
神疲乏力
食欲不振 10 n
胃脘胀痛
畏寒肢冷
头晕目眩
清热解毒 20 v
活血化瘀 20 v
疏肝理气
健脾和胃
辛辣刺激性食物
不易消化食物
滋补性中药
抗生素类药
"""


# --------------------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------------------


def write_text(path: Path, content: str) -> None:
    """Write UTF-8 text without newline translation or BOM."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(content)


def clean_dir(folder: Path) -> None:
    """Create ``folder`` and delete stale .txt/.ann files inside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in sorted(folder.iterdir()):
        if stale.is_file() and stale.suffix in (".txt", ".ann"):
            stale.unlink()


def pick_ids(seed: int, n_labeled: int, n_unlabeled: int) -> tuple[list[int], list[int]]:
    """Disjoint, non-contiguous integer ids for labeled and unlabeled documents."""
    total = n_labeled + n_unlabeled
    upper = max(2000, 3 * total + 1)
    ids = random.Random(seed).sample(range(1, upper), total)
    return sorted(ids[:n_labeled]), sorted(ids[n_labeled:])


def readme(args: argparse.Namespace) -> str:
    """Provenance note written next to the generated data."""
    return (
        "# Synthetic demo data\n"
        "\n"
        "Everything in this folder is **synthetic**: Chinese TCM drug-leaflet (中药说明书)\n"
        "texts assembled from hand-written templates and vocabulary; no real leaflet text.\n"
        "\n"
        "- `labeled/<id>.txt` + `labeled/<id>.ann`: brat standoff annotations\n"
        "  (`T<k>\\t<TYPE> <start> <end>\\t<surface>`, Python character offsets, end exclusive)\n"
        "  over 13 entity types.\n"
        "- `unlabeled/<id>.txt`: texts from the same generator without annotations.\n"
        "- `lexicon.tsv`: an example external entity lexicon (`surface<TAB>TYPE` a line;\n"
        "  `-S data.lexicon_file=data/demo/lexicon.tsv`), hand-written.\n"
        "- `jieba_user_dict.txt`: an example jieba user dictionary for `wwm` word units\n"
        "  (`-S mask.jieba_user_dict=data/demo/jieba_user_dict.txt`), hand-written.\n"
        "\n"
        "Generated by `python scripts/make_demo_data.py`; regenerate (byte-identical) with:\n"
        "\n"
        "```\n"
        f"python scripts/make_demo_data.py --out {args.out} --seed {args.seed} "
        f"--labeled {args.labeled} --unlabeled {args.unlabeled}\n"
        "```\n"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        description="Generate synthetic TCM drug-leaflet NER demo data in brat format.",
    )
    parser.add_argument("--out", default="data/demo", help="output folder (default: data/demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--labeled", type=int, default=240,
                        help="number of annotated documents (default: 240)")
    parser.add_argument("--unlabeled", type=int, default=120,
                        help="number of text-only documents (default: 120)")
    args = parser.parse_args(argv)
    if args.labeled < 0 or args.unlabeled < 0:
        parser.error("document counts must be non-negative")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Generate the corpus."""
    args = parse_args(argv)
    out = Path(args.out)
    labeled_dir, unlabeled_dir = out / "labeled", out / "unlabeled"
    clean_dir(labeled_dir)
    clean_dir(unlabeled_dir)
    labeled_ids, unlabeled_ids = pick_ids(args.seed, args.labeled, args.unlabeled)
    for doc_id in labeled_ids:
        doc = make_document(args.seed, doc_id)
        write_text(labeled_dir / f"{doc_id}.txt", doc.text)
        write_text(labeled_dir / f"{doc_id}.ann", to_ann(doc))
    for doc_id in unlabeled_ids:
        write_text(unlabeled_dir / f"{doc_id}.txt", make_document(args.seed, doc_id).text)
    write_text(out / "lexicon.tsv", EXAMPLE_LEXICON)
    write_text(out / "jieba_user_dict.txt", EXAMPLE_USER_DICT)
    write_text(out / "README.md", readme(args))
    print(f"wrote {len(labeled_ids)} labeled and {len(unlabeled_ids)} unlabeled docs to {out}")


if __name__ == "__main__":
    main()
