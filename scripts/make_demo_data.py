"""Generate a small synthetic corpus of Chinese TCM drug leaflets (中药说明书) in brat format.

The documents imitate the layout of real leaflets (section headers such as 【功能主治】,
full-width punctuation, numbered precautions, dosage units, approval numbers, company
addresses) but every sentence is produced from hand-written templates and vocabulary; no
real leaflet text is used.  The data lives in files next to this script, the logic in it::

    demo_vocabulary/vocabulary.yaml      entity types, vocabulary pools, templates, phrase lists
    demo_vocabulary/lexicon.tsv          copied verbatim to <out>/lexicon.tsv
    demo_vocabulary/jieba_user_dict.txt  copied verbatim to <out>/jieba_user_dict.txt
    demo_vocabulary/readme_template.md   <out>/README.md (string.Template: ${out}, ${seed}, ...)

Order inside vocabulary.yaml matters (pools are sampled rank-weighted from seeded RNGs):
editing it changes the generated corpus, so regenerate data/demo (``make demo-data``) with it.

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
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

Segment = tuple[str, str | None]

# --------------------------------------------------------------------------------------
# Data: vocabulary pools, templates and fixed texts live in demo_vocabulary/ next to this
# script and are read at import.  Order in vocabulary.yaml matters (sampling is seeded).
# --------------------------------------------------------------------------------------

VOCAB_DIR = Path(__file__).resolve().parent / "demo_vocabulary"
VOCABULARY_FILE = VOCAB_DIR / "vocabulary.yaml"
LEXICON_FILE = VOCAB_DIR / "lexicon.tsv"
USER_DICT_FILE = VOCAB_DIR / "jieba_user_dict.txt"
README_TEMPLATE = VOCAB_DIR / "readme_template.md"

# ``{POOL}`` draws an entity from a pool, ``{POOL=surface}`` inserts a fixed one.
PLACEHOLDER = re.compile(r"\{([A-Z_0-9]+)(?:=([^}]+))?\}")
FULLWIDTH_OFFSET = 0xFEE0
# Pools filled per document (from dosage_by_form and drugs) rather than read from ``pools``.
RUNTIME_POOLS: frozenset[str] = frozenset({"DOSAGE", "DRUG"})


def read_text(path: Path) -> str:
    """Read UTF-8 text with universal newlines (so outputs are ``\\n`` on every OS)."""
    return path.read_text(encoding="utf-8")


def invalid(where: str, expected: str) -> ValueError:
    """The error for a malformed entry of vocabulary.yaml."""
    return ValueError(f"{VOCABULARY_FILE}: {where} must be {expected}")


def strings(value: object, where: str) -> tuple[str, ...]:
    """``value`` as a tuple of strings in file order; ValueError unless a non-empty list of
    strings (an unquoted YAML number, boolean or null fails here instead of being mangled)."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise invalid(where, "a non-empty list of quoted strings")
    return tuple(value)


def weighted(value: object, where: str) -> tuple[tuple[str, float], ...]:
    """``value`` as ``(string, weight)`` pairs in file order; ValueError unless a non-empty
    list of ``[string, positive number]``."""
    if not isinstance(value, list) or not value or not all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
        and isinstance(p[1], int | float) and not isinstance(p[1], bool) and p[1] > 0
        for p in value
    ):
        raise invalid(where, "a non-empty list of [string, weight > 0]")
    return tuple((text, float(weight)) for text, weight in value)


def table(value: object, where: str) -> dict[str, tuple[str, ...]]:
    """``value`` as an ordered mapping name -> tuple of strings; ValueError otherwise."""
    if not isinstance(value, dict) or not value or not all(isinstance(k, str) for k in value):
        raise invalid(where, "a non-empty mapping with string keys")
    return {key: strings(items, f"{where}.{key}") for key, items in value.items()}


def labels(value: object, where: str) -> dict[str, str]:
    """``value`` as an ordered mapping of strings to strings; ValueError otherwise."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise invalid(where, "a mapping of strings to quoted strings")
    return dict(value)


def drug_entries(value: object, forms: Sequence[str]) -> tuple[tuple[str, str, str], ...]:
    """``drugs`` as ``(name, pinyin, form)`` triples; ValueError on another shape or form."""
    if not isinstance(value, list) or not value:
        raise invalid("drugs", "a non-empty list of [name, pinyin, form]")
    entries = [strings(item, "drugs[]") for item in value]
    if not all(len(e) == 3 and e[2] in forms for e in entries):
        raise invalid("drugs", f"a list of [name, pinyin, form] with form in {list(forms)}")
    return tuple((name, pinyin, form) for name, pinyin, form in entries)


_DATA = yaml.safe_load(read_text(VOCABULARY_FILE))

ENTITY_TYPES: tuple[str, ...] = strings(_DATA["entity_types"], "entity_types")
# Entity pools, ordered from most to least common; sampling is Zipf-like.
VOCAB: dict[str, tuple[str, ...]] = table(_DATA["pools"], "pools")
# Pools whose entity type differs from their name.
POOL_TYPE: dict[str, str] = labels(_DATA["pool_types"], "pool_types")
DOSAGE_BY_FORM: dict[str, tuple[str, ...]] = table(_DATA["dosage_by_form"], "dosage_by_form")
FORMS: tuple[str, ...] = tuple(DOSAGE_BY_FORM)
DRUGS: tuple[tuple[str, str, str], ...] = drug_entries(_DATA["drugs"], FORMS)
COLORS: tuple[str, ...] = strings(_DATA["colors"], "colors")
CITIES: tuple[str, ...] = strings(_DATA["cities"], "cities")
FIRM_WORDS: tuple[str, ...] = strings(_DATA["firm_words"], "firm_words")
FIRM_KINDS: tuple[str, ...] = strings(_DATA["firm_kinds"], "firm_kinds")
ROADS: tuple[str, ...] = strings(_DATA["roads"], "roads")
PHARM_NOTES: tuple[str, ...] = strings(_DATA["pharm_notes"], "pharm_notes")
HEADER_VARIANTS: dict[str, tuple[str, ...]] = table(_DATA["header_variants"], "header_variants")
NUMBER_MARKS: tuple[tuple[str, float], ...] = weighted(_DATA["number_marks"], "number_marks")
# Templates: plain template text must never contain a vocabulary surface.
INDICATION_TEMPLATES: tuple[str, ...] = strings(_DATA["indication_templates"],
                                                "indication_templates")
INDICATION_EXTRAS: tuple[str, ...] = strings(_DATA["indication_extras"], "indication_extras")
ADVERSE_TEMPLATES: tuple[str, ...] = strings(_DATA["adverse_templates"], "adverse_templates")
CONTRA_TEMPLATES: tuple[str, ...] = strings(_DATA["contra_templates"], "contra_templates")
NOTE_TEMPLATES: tuple[tuple[str, float], ...] = weighted(_DATA["note_templates"],
                                                         "note_templates")
STORAGE: tuple[str, ...] = strings(_DATA["storage"], "storage")
EXPIRY: tuple[str, ...] = strings(_DATA["expiry"], "expiry")
STANDARDS: tuple[str, ...] = strings(_DATA["standards"], "standards")


def check_vocabulary() -> None:
    """ValueError unless every pool yields one of ENTITY_TYPES and every template draws
    only from known pools."""
    known = set(VOCAB) | RUNTIME_POOLS
    unknown_types = {POOL_TYPE.get(pool, pool) for pool in known} - set(ENTITY_TYPES)
    if unknown_types:
        raise invalid("pools and pool_types", f"mapped to entity_types, not {unknown_types}")
    templates = [*INDICATION_TEMPLATES, *INDICATION_EXTRAS, *ADVERSE_TEMPLATES,
                 *CONTRA_TEMPLATES, *(t for t, _ in NOTE_TEMPLATES)]
    for template in templates:
        for match in PLACEHOLDER.finditer(template):
            if match.group(1) not in known:
                raise invalid("templates", f"drawn from known pools: {template!r}")


check_vocabulary()


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
    return rng.choice(HEADER_VARIANTS.get(header, (header,)))


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
        number_mark=rng.choices([m for m, _ in NUMBER_MARKS],
                                weights=[w for _, w in NUMBER_MARKS], k=1)[0],
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
    """Provenance note written next to the generated data: README_TEMPLATE with ``${out}``,
    ``${seed}``, ``${labeled}`` and ``${unlabeled}`` filled from ``args``."""
    return string.Template(read_text(README_TEMPLATE)).substitute(
        out=args.out, seed=args.seed, labeled=args.labeled, unlabeled=args.unlabeled,
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
    write_text(out / "lexicon.tsv", read_text(LEXICON_FILE))
    write_text(out / "jieba_user_dict.txt", read_text(USER_DICT_FILE))
    write_text(out / "README.md", readme(args))
    print(f"wrote {len(labeled_ids)} labeled and {len(unlabeled_ids)} unlabeled docs to {out}")


if __name__ == "__main__":
    main()
