"""Shared page furniture: header with publish time, filters, indicator cards, tables with downloads."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable, Sequence

import altair as alt
import auth
import pandas as pd
import privacy
import streamlit as st
from queries import indicators

import data

# --------------------------------------------------------------------------- header / messages


def page_header(title: str, intro: str | None = None) -> dict | None:
    """Title, publish time of the snapshot; stops the page when nothing is published yet."""
    st.title(title)
    try:
        info = data.publish_info()
    except data.SnapshotMissing as exc:
        st.warning(f"尚未发布数据：未找到已发布的数据快照（{exc}）。请先运行数据管道（make pipeline）。")
        st.stop()
    if info is None:
        st.caption("数据发布时间：未知（快照中缺少 meta.publish_info）")
    else:
        published = pd.Timestamp(info["published_at"]).strftime("%Y-%m-%d %H:%M")
        st.caption(
            f"数据发布时间：{published} · 批次 {info['run_id']} · 仓库版本 {info['warehouse_version']}"
        )
    if intro:
        st.markdown(intro)
    return info


def is_missing(result: object, what: str = "") -> bool:
    """Show a Chinese info message (not a stack trace) when a table is missing from the snapshot."""
    if isinstance(result, data.Missing):
        st.info(f"暂无数据：已发布的快照中没有{what or '所需的表'}（{result.what}）。")
        return True
    if isinstance(result, pd.DataFrame) and result.empty:
        st.info(f"暂无数据：所选条件下没有{what or '记录'}。")
        return True
    return False


# --------------------------------------------------------------------------- downloads / tables


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with BOM so Excel opens Chinese text correctly."""
    return df.to_csv(index=False).encode("utf-8-sig")


def to_excel_bytes(df: pd.DataFrame, sheet_name: str = "数据") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
        df.to_excel(writer, index=False, sheet_name=re.sub(r"[\[\]:*?/\\]", "_", sheet_name)[:31])
    return buf.getvalue()


def relabel(df: pd.DataFrame) -> pd.DataFrame:
    names = data.labels()["columns"]
    return df.rename(columns={c: names.get(c, c) for c in df.columns})


MAX_SHOWN_ROWS = 1000  # a browser table beyond this is unreadable and slow; downloads hold every row


MISSING_TEXT = "—"


def fill_missing(df: pd.DataFrame) -> pd.DataFrame:
    """Missing cells as 「—」 (a table never shows None/NaN); columns without gaps keep their type."""
    out = df.copy()
    for col in out.columns:
        mask = out[col].isna()
        if not mask.any():
            continue
        series = out[col]
        if pd.api.types.is_datetime64_any_dtype(series):
            text = series.dt.strftime("%Y-%m-%d %H:%M:%S").str.replace(" 00:00:00", "", regex=False)
        elif pd.api.types.is_numeric_dtype(series):
            text = series.map(
                lambda v: "" if pd.isna(v) else (f"{int(v):,}" if float(v).is_integer() else f"{v:g}")
            )
        else:
            text = series.astype(object).map(lambda v: v if isinstance(v, str) else str(v))
        out[col] = text.where(~mask, MISSING_TEXT).astype(str)
    return out


def for_display(
    df: pd.DataFrame, people_cols: Iterable[str] = (), mask_cols: Iterable[str] = ()
) -> pd.DataFrame:
    """The small-cell rule, masking and Chinese headers: what is shown and what is downloaded.
    Missing values are shown as 「—」, never None."""
    out = privacy.mask_columns(privacy.suppress_counts(df, people_cols), mask_cols)
    return fill_missing(relabel(out)).reset_index(drop=True)


def show_table(
    df: pd.DataFrame,
    key: str,
    *,
    title: str | None = None,
    people_cols: Iterable[str] = (),
    mask_cols: Iterable[str] = (),
    height: int | None = None,
) -> pd.DataFrame:
    """Show a table with CSV and Excel downloads; people counts pass the small-cell rule first.

    At most ``MAX_SHOWN_ROWS`` rows are shown; the downloads hold all rows and are built only when
    clicked (deferred), so a large table costs the page nothing. Returns the frame shown.
    """
    people_cols, mask_cols = tuple(people_cols), tuple(mask_cols)
    shown = for_display(df.head(MAX_SHOWN_ROWS), people_cols, mask_cols)
    if title:
        st.markdown(f"**{title}**")
    kwargs = {"height": height} if height else {}
    st.dataframe(shown, hide_index=True, width="stretch", **kwargs)
    if len(df) > MAX_SHOWN_ROWS:
        st.caption(f"共 {len(df):,} 行，此处显示前 {MAX_SHOWN_ROWS:,} 行；下载文件包含全部行。")
    name = title or key
    full = df if len(df) > MAX_SHOWN_ROWS else None
    c1, c2, _ = st.columns([1, 1, 4])
    who = (auth.current_user(), st.session_state.get("rw_page"))  # the audit log records downloads
    c1.download_button(
        "下载 CSV",
        functools.partial(_csv_of, shown, full, people_cols, mask_cols, who, f"{name}.csv"),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
    )
    c2.download_button(
        "下载 Excel",
        functools.partial(_excel_of, shown, full, people_cols, mask_cols, name, who),
        file_name=f"{name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        on_click="ignore",
    )
    return shown


def _csv_of(shown, full, people_cols, mask_cols, who=(None, None), what="") -> bytes:
    auth.log_download(who[0], who[1], what)
    return to_csv_bytes(shown if full is None else for_display(full, people_cols, mask_cols))


def _excel_of(shown, full, people_cols, mask_cols, name, who=(None, None)) -> bytes:
    auth.log_download(who[0], who[1], f"{name}.xlsx")
    return to_excel_bytes(shown if full is None else for_display(full, people_cols, mask_cols), name)


# --------------------------------------------------------------------------- filters


def period_filter(
    periods: Sequence[str],
    key: str,
    *,
    allow_all: bool = False,
    label: str = "统计期",
    default: str | None = None,
) -> str | None:
    """Month picker. Defaults to ``default`` (pages pass the latest complete month); a month whose
    sources have not all delivered through its last day is labelled 「数据不完整」 in the list, and
    when chosen the page says which sources are still missing."""
    if not periods:
        return None
    options = (["全部"] if allow_all else []) + list(periods)
    index = options.index(default) if default in options else (1 if allow_all and len(options) > 1 else 0)
    partial = partial_periods()
    choice = st.sidebar.selectbox(
        label,
        options,
        index=index,
        key=key,
        format_func=lambda p: f"{p}（{PARTIAL_LABEL}）" if p in partial else p,
    )
    if choice != "全部":
        completeness_notice(choice)
    return None if choice == "全部" else choice


PARTIAL_LABEL = "数据不完整"


def partial_periods() -> set[str]:
    df = indicators.period_completeness()
    if isinstance(df, data.Missing):
        return set()
    return {p for p, ok in zip(df["period"], df["is_complete"], strict=True) if not ok}


def completeness_notice(period: str | None) -> None:
    """A warning on a partial month naming the sources still missing (marts.period_completeness)."""
    status = indicators.period_status(period)
    if status is None or bool(status["is_complete"]):
        return
    detail = _txt(status.get("missing_detail_zh"), "") or _txt(status.get("missing_sources"), "")
    st.warning(
        f"{period} {PARTIAL_LABEL}：以下数据源尚未报送至月末，指标可能偏低或失真，请勿作为正式结果引用。"
        f"尚缺：{detail}"
    )


def geo_filter(key: str, levels: Sequence[str] | None = None) -> tuple[str, str, str]:
    """Scope picker: 全市 / 区县 / 医联体 / 机构级别 / 机构, then the place. Returns (level, id, name)."""
    names = data.labels()["geo_levels"]
    levels = [lv for lv in (levels or indicators.geo_levels()) if lv in indicators.geo_levels()]
    if not levels:
        return ("region", "", "全市")
    level = st.sidebar.selectbox(
        "统计口径", levels, format_func=lambda g: names.get(g, g), key=f"{key}_level"
    )
    opts = indicators.geo_options(level)
    if isinstance(opts, data.Missing) or opts.empty:
        return (level, "", "")
    ids = list(opts["geo_id"])
    name_of = dict(zip(opts["geo_id"], opts["geo_name"], strict=True))
    if len(ids) == 1:
        return (level, ids[0], name_of[ids[0]])
    geo_id = st.sidebar.selectbox(names.get(level, level), ids, format_func=name_of.get, key=f"{key}_geo")
    return (level, geo_id, name_of[geo_id])


def county_filter(key: str) -> str | None:
    inst = indicators.institutions()
    if isinstance(inst, data.Missing):
        return None
    counties = inst[["county_code", "county_name"]].drop_duplicates().sort_values("county_code")
    name_of = dict(zip(counties["county_code"], counties["county_name"], strict=True))
    choice = st.sidebar.selectbox(
        "区县", ["全部", *counties["county_code"]], format_func=lambda c: name_of.get(c, c), key=key
    )
    return None if choice == "全部" else choice


# --------------------------------------------------------------------------- indicator cards


def _txt(v: object, empty: str = "—") -> str:
    return empty if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" else str(v)


def target_text(target: object, direction: object, unit: object) -> str:
    if target is None or pd.isna(target):
        return "无目标值"
    sign = "≤" if direction == "lower_better" else "≥"
    suffix = "%" if unit == "%" else f" {unit}"
    return f"目标 {sign} {float(target):g}{suffix}"


def target_met(value: object, target: object, direction: object) -> bool | None:
    if target is None or pd.isna(target) or value is None or pd.isna(value):
        return None
    return float(value) <= float(target) if direction == "lower_better" else float(value) >= float(target)


def mom_delta(row: pd.Series) -> str | None:
    """Month-on-month change (percentage points for rates); None when either side is withheld."""
    unit = row.get("unit")
    prev = row.get("prev_value")
    if prev is None or pd.isna(prev):
        return None
    if not (
        privacy.value_is_shown(row["value"], unit, row["numerator"], row["denominator"])
        and privacy.value_is_shown(prev, unit, row.get("prev_numerator"), row.get("prev_denominator"))
    ):
        return None
    d = float(row["value"]) - float(prev)
    if unit == "%":
        return f"{d:+.1f} 个百分点"
    if unit in ("小时", "天"):
        return f"{d:+.1f} {unit}"
    return f"{d:+,.0f}"


def definition_popover(row: pd.Series, key: str) -> None:
    with st.popover("指标定义", key=key):
        st.markdown(f"**{row['name_zh']}**（{row['indicator_id']}，单位：{row['unit']}）")
        st.markdown(_txt(row.get("definition_zh"), ""))
        st.markdown(f"- 分子：{_txt(row.get('numerator_zh'))}\n- 分母：{_txt(row.get('denominator_zh'))}")
        st.markdown(f"- {target_text(row.get('target'), row.get('direction'), row.get('unit'))}")
        if _txt(row.get("source"), ""):
            st.caption(f"依据：{row['source']}")


def definitions_expander(registry: pd.DataFrame, key: str, label: str = "指标定义") -> None:
    """The registry's definitions of the indicators a page shows, one click away."""
    if isinstance(registry, data.Missing) or registry.empty:
        return
    with st.expander(label):
        for _, row in registry.iterrows():
            st.markdown(
                f"**{row['name_zh']}**（{row['unit']}）：{_txt(row.get('definition_zh'), '')}  \n"
                f"分子：{_txt(row.get('numerator_zh'))}；分母：{_txt(row.get('denominator_zh'))}；"
                f"{target_text(row.get('target'), row.get('direction'), row.get('unit'))}"
            )


def indicator_cards(cards: pd.DataFrame, key: str, per_row: int = 4) -> None:
    """One metric card per indicator: value, month-on-month delta, target, one-click definition."""
    for start in range(0, len(cards), per_row):
        cols = st.columns(per_row)
        for col, (_, row) in zip(cols, cards.iloc[start : start + per_row].iterrows(), strict=False):
            with col.container(border=True):
                direction = row.get("direction")
                st.metric(
                    row["name_zh"],
                    privacy.format_value(row["value"], row["unit"], row["numerator"], row["denominator"]),
                    delta=mom_delta(row),
                    delta_color={"higher_better": "normal", "lower_better": "inverse"}.get(direction, "off"),
                    help="环比：与上月相比",
                )
                met = target_met(row["value"], row["target"], direction)
                shown = privacy.value_is_shown(
                    row["value"], row["unit"], row["numerator"], row["denominator"]
                )
                status = "" if met is None or not shown else (" · :green[达标]" if met else " · :red[未达标]")
                st.caption(target_text(row["target"], direction, row["unit"]) + status)
                definition_popover(row, key=f"{key}_def_{row['indicator_id']}")


def indicator_table(df: pd.DataFrame) -> pd.DataFrame:
    """Display frame for indicator rows: formatted value, counts suppressed, target and whether met."""
    out = pd.DataFrame(
        {
            "name_zh": df["name_zh"],
            "geo_name": df.get("geo_name", None),
            "period": df["period"],
            "value_text": [
                privacy.format_value(v, u, n, d)
                for v, u, n, d in zip(
                    df["value"], df["unit"], df["numerator"], df["denominator"], strict=True
                )
            ],
            "numerator": df["numerator"],
            "denominator": df["denominator"],
            "target_text": [
                target_text(t, dr, u)
                for t, dr, u in zip(df["target"], df["direction"], df["unit"], strict=True)
            ],
        }
    )
    if "geo_name" not in df:
        out = out.drop(columns=["geo_name"])
    return out


def value_or_reason(
    value: object, unit: object, numerator: object, denominator: object, reason: object
) -> str:
    """An indicator value as shown (small-cell rule applied); a missing value shows its reason."""
    text = privacy.format_value(value, unit, numerator, denominator)
    if text == "—" and _txt(reason, ""):
        return f"—（{reason}）"
    return text


def direction_table(df: pd.DataFrame) -> pd.DataFrame:
    """Direction-split indicators side by side: 指标 | 合计 | 上转 | 下转 (one row per indicator and place)."""
    cols = {"all": "合计", "up": "上转", "down": "下转"}
    df = df.assign(
        text=[
            value_or_reason(v, u, n, d, r)
            for v, u, n, d, r in zip(
                df["value"], df["unit"], df["numerator"], df["denominator"], df["null_reason_zh"], strict=True
            )
        ]
    )
    wide = df.pivot_table(
        index=["indicator_id", "name_zh", "geo_name"], columns="breakdown", values="text", aggfunc="first"
    ).reset_index()
    order = {iid: i for i, iid in enumerate(dict.fromkeys(df["indicator_id"]))}
    wide = wide.sort_values("indicator_id", key=lambda s: s.map(order))
    out = wide[["name_zh", "geo_name", *[c for c in cols if c in wide.columns]]].rename(columns=cols)
    return out.rename(columns={"name_zh": "指标", "geo_name": "地区/机构"}).reset_index(drop=True)


def direction_section(geo_level: str, geo_id: str, period: str | None, key: str) -> None:
    """The process indicators that mix directions, with their up-only and down-only values next to the total."""
    ids = indicators.direction_split_indicators()
    if not ids or not period:
        return
    df = indicators.indicator_breakdowns(ids, geo_level, period)
    if isinstance(df, data.Missing) or df.empty:
        return
    df = df[df["geo_id"] == geo_id]
    if df.empty:
        return
    st.subheader("分方向：上转 / 下转")
    st.caption("上转与下转由不同医院、不同政策管理：到诊率、接收/到诊时长、闭环率、重复检查率按方向分列。")
    show_table(direction_table(df), key=key, title=f"分方向指标_{period}")


# --------------------------------------------------------------------------- charts


def count_chart_frame(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """Chart data for a people count: small cells carry no bar, only the label ``<5``."""
    out = df.copy()
    out["label"] = [privacy.format_count(v) for v in out[col]]
    out[col] = [None if privacy.is_small(v) else float(v) for v in out[col]]
    return out


def bar(df: pd.DataFrame, x: str, y: str, *, color: str | None = None, x_title: str = "", y_title: str = "",
        horizontal: bool = False, sort: object = "-x") -> alt.Chart:  # fmt: skip
    enc_x = alt.X(f"{y}:Q", title=y_title) if horizontal else alt.X(f"{x}:N", title=x_title, sort=None)
    enc_y = alt.Y(f"{x}:N", title=x_title, sort=sort) if horizontal else alt.Y(f"{y}:Q", title=y_title)
    enc = {"x": enc_x, "y": enc_y, "tooltip": [x, y]}
    if color:
        enc["color"] = alt.Color(f"{color}:N", title="")
    return alt.Chart(df).mark_bar().encode(**enc)
