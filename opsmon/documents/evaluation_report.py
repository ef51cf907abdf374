"""The evaluation's two documents, built from the round's results as a :class:`~opsmon.documents.model.Document`.

- :func:`provincial` — the 全省评价报告: how far the round got, scores by region and hospital with
  rankings, the distribution, the spot check's findings (self against checked scores), the units to
  praise (通报表扬: the top within kind and tier), the weakest items, and charts (the prefectures'
  score rates as a map and a bar ranking).
- :func:`self_assessment` — a unit's 自评报告 skeleton (附件4's framework: overview, work per task,
  scores, problems, next steps, 典型案例 slots), pre-filled with its sheet and figures; the office
  writes the narrative into the 【…】 places of the DOCX before stamping it.

Every number is read through :mod:`opsmon.evaluation.results` with the caller (the same reads as the
评价 page), so the report's scores equal the page's.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import geo, periods
from opsmon.access.users import User
from opsmon.documents import charts, prose
from opsmon.documents.model import Block, Document, Figure, Heading, Paragraph, Table
from opsmon.evaluation import results, rounds, sheets
from opsmon.indicators import catalogue

Format = Literal["docx", "pdf"]
# Score-rate grades of the distribution (at least the threshold).
GRADES = ((0.9, "优秀（≥90%）"), (0.8, "良好（80%—90%）"), (0.6, "合格（60%—80%）"), (0.0, "待改进（<60%）"))
PRAISE_TOP = 3
KIND_NAMES = {"commission": "卫生健康委", "hospital": "医院"}


def _score(value: float | None) -> str:
    return prose.MISSING if prose.missing(value) else f"{value:g}"


def _rate(frame: pd.DataFrame) -> pd.Series:
    return frame["final_total"] / frame["max_total"]


def _grade(rate: float) -> str:
    return next(label for threshold, label in GRADES if rate >= threshold - 1e-12)


def _root(engine: Engine) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT CAST(adcode AS text), name FROM regions WHERE parent_adcode IS NULL")).one()
    return row[0], row[1]


def _map(frame: pd.DataFrame, root: str, title: str) -> bytes | None:
    """The prefecture-level units' score rates on the province's map (None without boundaries)."""
    try:
        features = [f for layer in ("prefectures", "counties") if geo.has_layer(root, layer)
                    for f in geo.load_geojson(root, layer)["features"] if str(f["id"]) in set(frame["unit_code"])]
    except (FileNotFoundError, ValueError):
        return None
    if not features:
        return None
    rates = dict(zip(frame["unit_code"], _rate(frame)))
    values = {c: None if pd.isna(v) else float(v) * 100 for c, v in rates.items()}
    texts = {c: prose.percent(None if pd.isna(v) else float(v)) for c, v in rates.items()}
    return charts.choropleth(features, values, texts, title=title, legend="%")


def provincial(engine: Engine, user: User, year: int) -> Document:
    """The 全省评价报告 of round *year* as *user* sees it (the province sees every unit)."""
    r = rounds.get_round(engine, year)
    units = results.units(engine, user, year)
    root, province = _root(engine)
    tables = figures = 0

    def table(text: str) -> str:
        nonlocal tables
        tables += 1
        return f"表{tables} {text}"

    def figure(text: str) -> str:
        nonlocal figures
        figures += 1
        return f"图{figures} {text}"

    blocks: list[Block] = []
    # 一、总体情况
    counts = {s: int((units["state"] == s).sum()) for s in results.STATES}
    done = units[units["final_total"].notna() & units["self_submitted_at"].notna()]
    blocks.append(Heading("一、总体情况"))
    blocks.append(Paragraph(
        f"{year}年公立医疗机构经济管理年活动评价共有{len(units)}个单位参加，其中卫生健康委"
        f"{int((units['kind'] == 'commission').sum())}个、省级预算管理医院{int((units['kind'] == 'hospital').sum())}家。"
        f"已提交自评{len(units) - counts['not_started'] - counts['draft']}个，已复核{counts['reviewed'] + counts['checked']}个，"
        f"已抽查{counts['checked']}个。评价数据取自{prose.ytd_label(periods.to_period(r.data_period))}监测数据。"))
    if not done.empty:
        rates = _rate(done)
        by_kind = "，".join(f"{KIND_NAMES[k]}平均得分率{prose.percent(float(rates[done['kind'] == k].mean()))}"
                           for k in ("commission", "hospital") if (done["kind"] == k).any())
        blocks.append(Paragraph(f"已提交自评的单位中，{by_kind}。"))
        grades = [(label, int(sum(_grade(float(x)) == label for x in rates))) for _, label in GRADES]
        blocks.append(Table(("得分率", "单位数"), tuple((g, f"{n}个") for g, n in grades),
                            caption=table("得分分布")))

    # 二、各地区得分
    blocks.append(Heading("二、各地区得分情况"))
    ranked = results.ranking(units)
    commissions = ranked[ranked["kind"] == "commission"]
    level_names = {"prefecture": "市（州）", "county": "县（市、区）"}
    names = dict(zip(units["unit_code"], units["name"]))
    rows = tuple((r_.name, level_names.get(r_.level, r_.level), names.get(r_.parent_adcode, ""),
                  _score(r_.self_total), _score(r_.reviewed_total), _score(r_.check_total), _score(r_.final_total),
                  prose.percent(r_.rate), "—" if pd.isna(r_.rank) else f"{int(r_.rank)}")
                 for r_ in commissions.sort_values(["level", "rank", "unit_code"], ascending=[False, True, True])
                 .itertuples())
    blocks.append(Table(("单位", "层级", "上级", "自评", "复核", "抽查", "最终得分", "得分率", "排名"), rows,
                        caption=table("各卫生健康委得分"), note="排名在同一层级内按最终得分率；最终得分为抽查得分，未抽查的为复核后得分。",
                        column_align=("left", "center", "left", "right", "right", "right", "right", "right", "center")))
    scored = commissions.dropna(subset=["final_total"]).sort_values(["rate", "unit_code"], ascending=[False, True])
    tops = scored[scored["stratum"] == "prefecture"]
    if not tops.empty:
        picture = _map(tops, root, "各市（州）卫生健康委最终得分率")
        if picture:
            blocks.append(Figure(picture, figure("各市（州）卫生健康委最终得分率"), 14.0))
    shown = tops if not tops.empty else scored  # the prefectures; before any has a score, the counties that have
    if not shown.empty:
        label = "各市（州）" if not tops.empty else "各县（市、区）"
        blocks.append(Figure(charts.bar_ranking(list(shown["name"]), list(shown["rate"] * 100),
                                                [prose.percent(v) for v in shown["rate"]],
                                                title=f"{label}卫生健康委最终得分率", unit="%"),
                             figure(f"{label}卫生健康委得分率排名"), 14.0))

    # 三、医院得分
    hospitals = ranked[ranked["kind"] == "hospital"]
    blocks.append(Heading("三、省级预算管理医院得分情况"))
    if hospitals.empty:
        blocks.append(Paragraph("本轮评价没有省级预算管理医院参加。"))
    else:
        blocks.append(Table(("医院", "等级", "自评", "复核", "抽查", "最终得分", "得分率", "等级内排名"), tuple(
            (h.name, h.tier or "—", _score(h.self_total), _score(h.reviewed_total), _score(h.check_total),
             _score(h.final_total), prose.percent(h.rate), "—" if pd.isna(h.rank) else f"{int(h.rank)}")
            for h in hospitals.itertuples()), caption=table("省级预算管理医院得分"),
            column_align=("left", "center", "right", "right", "right", "right", "right", "center")))

    # 四、抽查情况
    blocks.append(Heading("四、现场抽查情况"))
    sampled = units[units["sampled"]]
    if r.sample_seed is None:
        blocks.append(Paragraph("本轮尚未抽取现场抽查样本。"))
    else:
        checked = sampled[sampled["state"] == "checked"]
        differing = checked[checked["differing_items"] > 0]
        blocks.append(Paragraph(
            f"按地区和医院等级分层随机抽取{len(sampled)}个单位（抽样比例{prose.percent(r.sample_rate, 0)}，"
            f"随机种子{r.sample_seed}，可复现），已完成现场抽查{len(checked)}个。其中{len(differing)}个单位的自评得分与"
            f"抽查得分存在差异，涉及评分项目{int(checked['differing_items'].sum())}项。"))
        if not sampled.empty:
            blocks.append(Table(("单位", "类别", "自评得分", "抽查得分", "差额", "差异项目数"), tuple(
                (s.name, KIND_NAMES[s.kind], _score(s.self_total), _score(s.check_total),
                 _score(None if pd.isna(s.check_total) or pd.isna(s.self_total) else s.check_total - s.self_total),
                 f"{int(s.differing_items)}") for s in sampled.itertuples()),
                caption=table("现场抽查结果"), column_align=("left", "center", "right", "right", "right", "right")))

    # 五、通报表扬
    blocks.append(Heading("五、拟通报表扬单位"))
    praised = results.praise(units, PRAISE_TOP)
    if praised.empty:
        blocks.append(Paragraph("尚无已完成评价的单位。"))
    else:
        groups = []
        for (kind, tier), group in praised.groupby([praised["kind"], praised["tier"].fillna(praised["level"])],
                                                   sort=False):
            label = KIND_NAMES[kind] if kind == "hospital" else level_names.get(tier, tier) + "卫生健康委"
            if kind == "hospital":
                label = f"{tier}医院"
            groups.append(f"{label}：{prose.enumerate_names(list(group['name']))}")
        blocks.append(Paragraph(f"按最终得分率在同类单位中排名前{PRAISE_TOP}位，拟通报表扬：" + "；".join(groups) + "。"))

    # 六、存在问题
    blocks.append(Heading("六、存在的主要问题和下一步工作"))
    weak = item_rates(engine, user, year).head(5)
    if not weak.empty:
        blocks.append(Paragraph("从评分项目看，得分率较低的项目主要是：" + "；".join(
            f"{w.item}（{KIND_NAMES[w.kind]}，平均得分率{prose.percent(w.rate)}）" for w in weak.itertuples())
            + "。各地各单位要对照问题清单抓好整改，下一步将把评价结果纳入年度绩效考核。"))
    blocks.append(Paragraph("【请填写：存在问题的具体分析和下一步工作安排。】"))
    issuer = f"{province}卫生健康委员会"
    return Document(f"{province}{year}年公立医疗机构经济管理年活动评价报告", (issuer, prose.date_label(periods.today())),
                    tuple(blocks))


def item_rates(engine: Engine, user: User, year: int) -> pd.DataFrame:
    """Each item's average final score rate over the units in view that have a final score, lowest first:
    kind, item_code, item, units, rate."""
    r = rounds.get_round(engine, year)
    units = results.units(engine, user, year)
    units = units[units["final_total"].notna() & units["self_submitted_at"].notna()]
    scores = results.final_scores(engine, user, year)
    scores = scores[scores["unit_code"].isin(units["unit_code"])]
    rows = []
    for kind in sorted(set(units["kind"])):
        sheet = sheets.load(engine, r.sheet_id(kind))
        for item in sheet.items:
            got = scores[(scores["kind"] == kind) & (scores["item_code"] == item.code)]["final_score"].dropna()
            if len(got):
                rows.append({"kind": kind, "item_code": item.code, "item": item.item, "units": len(got),
                             "rate": float(got.mean()) / item.max_score})
    frame = pd.DataFrame(rows, columns=["kind", "item_code", "item", "units", "rate"])
    return frame.sort_values(["rate", "kind", "item_code"]).reset_index(drop=True)


def self_assessment(engine: Engine, user: User, year: int, unit_code: str) -> Document:
    """A unit's 自评报告 skeleton, pre-filled with its sheet's scores and the data's figures."""
    unit, items = results.sheet(engine, user, year, unit_code)
    r: rounds.Round = unit["round"]
    name = unit["name"]
    data_label = prose.ytd_label(periods.to_period(r.data_period))
    blocks: list[Block] = [Heading("一、基本情况"), Paragraph(
        f"{name}按照公立医疗机构经济管理年活动要求，对照《{unit['sheet_name']}》开展自评。"
        f"本报告中的数据取自公立医院经济运行监测系统{data_label}数据。"),
        Paragraph("【请填写：本单位基本情况、活动组织领导和总体进展。】"),
        Heading("二、工作开展情况")]
    for section, group in items.groupby("section", sort=False):
        blocks.append(Heading(f"（{_chinese_number(len([b for b in blocks if isinstance(b, Heading) and b.level == 2]) + 1)}）"
                              f"{section}", level=2))
        sentences = []
        for it in group.itertuples():
            text = f"{it.item}：自评得分{_score(it.self_score)}分（满分{it.max_score:g}分）"
            if isinstance(it.indicator, str):
                ind = catalogue.get(it.indicator)
                text += f"，{ind.zh}为{prose.value(ind, it.value)}，数据测算得分{_score(it.proposed)}分"
            if isinstance(it.self_note, str) and it.self_note:
                text += f"。说明：{it.self_note}"
            sentences.append(text + "。")
        blocks.append(Paragraph("".join(sentences)))
        blocks.append(Paragraph(f"【请填写：{section}方面的主要做法和成效。】"))
    total = items["self_score"].sum(min_count=1)
    blocks += [Heading("三、自评得分"), Table(
        ("评价项目", "分值", "数据测算", "自评得分", "说明"),
        tuple((it.item, f"{it.max_score:g}", _score(it.proposed), _score(it.self_score),
               _short(" ".join(x for x in (it.self_note, it.self_reason) if isinstance(x, str) and x)))
              for it in items.itertuples()) + (("合计", f"{unit['max_total']:g}", "", _score(total), ""),),
        caption="表1 自评得分", column_align=("left", "right", "right", "right", "left"))]
    short = items[items["self_score"].notna() & (items["self_score"] < items["max_score"])]
    blocks.append(Heading("四、存在的问题"))
    if not short.empty:
        blocks.append(Paragraph("未得满分的项目：" + "；".join(
            f"{it.item}（扣{it.max_score - it.self_score:g}分）" for it in short.itertuples()) + "。"))
    blocks += [Paragraph("【请填写：问题的原因分析。】"), Heading("五、下一步工作计划"),
               Paragraph("【请填写：整改措施、责任部门和完成时限。】"), Heading("六、典型案例")]
    for n in (1, 2):
        blocks += [Heading(f"案例{_chinese_number(n)}：【案例标题】", level=2),
                   Paragraph("【背景】"), Paragraph("【主要做法】"), Paragraph("【取得成效】")]
    return Document(f"{name}{year}年公立医疗机构经济管理年活动自评报告", (name, prose.date_label(periods.today())),
                    tuple(blocks))


def _short(text: str, limit: int = 120) -> str:
    """A table cell's text, cut at *limit* characters (the full note is in 二、工作开展情况)."""
    return text if len(text) <= limit else text[:limit] + "…"


def _chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 21 → 二十一 (up to 99; larger as digits)."""
    digits = "零一二三四五六七八九"
    if not 0 < n < 100:
        return str(n)
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("十" if tens == 1 else digits[tens] + "十") + (digits[ones] if ones else "")


def render(doc: Document, fmt: Format) -> bytes:
    """*doc* as DOCX or PDF bytes."""
    if fmt == "docx":
        from opsmon.documents.docx_render import to_docx

        return to_docx(doc)
    if fmt == "pdf":
        from opsmon.documents.pdf_render import to_pdf

        return to_pdf(doc)
    raise ValueError(f"format must be docx or pdf, got {fmt!r}")
