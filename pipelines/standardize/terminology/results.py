"""What the diagnosis standardizer returns: one ``Diagnosis`` per condition, one ``DiagnosisResult``
per (text, code) field (JSON in and out: the CLI prints it, the results cache stores it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str
    icd10_category: str | None
    hypertension_grade: int | None
    risk_tier: str | None  # 低危/中危/高危/很高危 where stated
    diabetes_type: str | None  # "1" / "2" / "gestational" / "other"
    copd_grade: int | None  # GOLD 1-4 where stated
    mapping_method: str
    source_text: str | None
    source_code: str | None
    code_system: str | None  # beijing_v601 / national_clinical_2.0 / insurance_2.0 / icd10 / unknown
    reviewed_by: str | None = None  # set for mapping_method == "manual"
    reviewed_at: str | None = None
    morphology_code: str | None = None  # ICD-O M-code of a tumour (M814000/3), never the diagnosis itself
    morphology_name: str | None = None
    qualifier: str | None = None  # suspected / history / post_operative (see qualifiers.csv)
    confidence: float = 1.0  # calibrated probability that the code is right (0-1)

    @property
    def grade(self) -> int | None:
        return self.hypertension_grade if self.hypertension_grade is not None else self.copd_grade

    def to_json(self) -> dict:
        out = {
            "code": self.code,
            "name": self.name,
            "icd10_category": self.icd10_category,
            "grade": self.grade,
            "hypertension_grade": self.hypertension_grade,
            "risk_tier": self.risk_tier,
            "diabetes_type": self.diabetes_type,
            "copd_grade": self.copd_grade,
            "mapping_method": self.mapping_method,
            "source_text": self.source_text,
            "source_code": self.source_code,
            "code_system": self.code_system,
            "morphology_code": self.morphology_code,
            "morphology_name": self.morphology_name,
            "qualifier": self.qualifier,
            "confidence": round(float(self.confidence), 3),
        }
        if self.mapping_method == "manual":
            out["reviewed_by"] = self.reviewed_by
            out["reviewed_at"] = self.reviewed_at
        return out


@dataclass(frozen=True)
class DiagnosisResult:
    input: str
    status: str  # "mapped" | "unmapped"
    diagnoses: list[Diagnosis]  # first = principal
    unmapped_parts: tuple[str, ...] = ()  # diagnoses in the field that could not be placed
    # up to three ranked {code, name, score} for an unmapped field (for the quality team's worklist)
    suggestions: tuple[dict, ...] = ()

    def to_json(self, internal: bool = False) -> dict:
        out = {
            "input": self.input,
            "status": self.status,
            "diagnoses": [d.to_json() for d in self.diagnoses],
        }
        if self.status == "unmapped" or (internal and self.suggestions):
            out["suggestions"] = [dict(s) for s in self.suggestions]
        if internal:
            out["unmapped_parts"] = list(self.unmapped_parts)
        return out

    @classmethod
    def from_json(cls, data: dict, pack=None, text=None, code=None) -> DiagnosisResult:
        """The inverse of ``to_json(internal=True)`` (the persistent cache stores that form)."""
        diagnoses = []
        for d in data["diagnoses"]:
            d = dict(d)
            d.pop("grade", None)
            diagnoses.append(Diagnosis(**d))
        label = text if text is not None else (code or data["input"])
        return cls(
            label,
            data["status"],
            diagnoses,
            tuple(data.get("unmapped_parts", ())),
            tuple(data.get("suggestions", ())),
        )


def _as_text(value) -> str | None:
    """None, NaN/NA (pandas) -> None; anything else -> str."""
    if value is None or isinstance(value, str):
        return value
    try:
        if value != value:  # NaN
            return None
    except (TypeError, ValueError):  # pandas.NA compares ambiguously
        return None
    return str(value)
