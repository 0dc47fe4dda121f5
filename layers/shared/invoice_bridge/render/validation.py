"""Validation of a UBL document with the official rules, in-process with saxonche.

Order as receivers apply it: UBL 2.1 XSD (only when the schemas are available; the offline mirror does not
have them), the EN 16931 rules (CEN's compiled XSLT, run as is), then the Peppol rules (ISO Schematron,
compiled here to XSLT once per process). A `fatal` failed assertion rejects the document.
"""

from __future__ import annotations

import hashlib
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

SCH = "http://purl.oclc.org/dsdl/schematron"
XSL = "http://www.w3.org/1999/XSL/Transform"
SVRL = "http://purl.oclc.org/dsdl/svrl"

CEN_XSLT = "EN16931-UBL-validation.xslt"
PEPPOL_SCH = "PEPPOL-EN16931-UBL.sch"
CEN_SCH = "CEN-EN16931-UBL.sch"
ARTEFACTS = (CEN_XSLT, PEPPOL_SCH, CEN_SCH)

PACKAGED_RULES = Path(__file__).with_name("rules")


def default_rules_dir() -> Path:
    """The rules shipped with the package (copied from `<repo>/../shared/peppol-rules`, checked by SHA-256
    in the tests); the offline mirror is used when the packaged copy is missing."""
    if all((PACKAGED_RULES / name).is_file() for name in ARTEFACTS):
        return PACKAGED_RULES
    for parent in Path(__file__).resolve().parents:
        mirror = parent.parent / "shared" / "peppol-rules"
        if (mirror / PEPPOL_SCH).is_file():
            return mirror
    raise FileNotFoundError("Peppol/EN 16931 validation artefacts not found")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class RuleFailure:
    rule_id: str
    flag: str  # fatal | warning
    message: str
    location: str
    source: str  # "xsd", "EN16931", "PEPPOL"


@dataclass
class ValidationResult:
    fatal: list[RuleFailure] = field(default_factory=list)
    warnings: list[RuleFailure] = field(default_factory=list)
    schema_checked: bool = False  # False: no UBL 2.1 XSDs available, schema validation not run

    @property
    def ok(self) -> bool:
        return not self.fatal

    def fired(self) -> set[str]:
        return {f.rule_id for f in self.fatal + self.warnings}

    def summary(self, limit: int = 10) -> str:
        return "; ".join(f"{f.rule_id}: {f.message}" for f in self.fatal[:limit])


# --- ISO Schematron → XSLT 2 -------------------------------------------------------------------


def compile_schematron(sch_text: str) -> str:
    """Compile an ISO Schematron (queryBinding xslt2) to an XSLT stylesheet that outputs SVRL.

    Each pattern runs in its own mode over the whole document; in a pattern a node is handled by the first
    rule whose context matches it (Schematron semantics), so rules become templates with falling priority.
    `let` → xsl:variable (schema and pattern lets global, rule lets local), `xsl:function` copied through,
    a failing `assert` → `svrl:failed-assert` with id, flag, location and text.
    """
    root = ET.fromstring(sch_text)
    namespaces = {ns.get("prefix"): ns.get("uri") for ns in root.findall(f"{{{SCH}}}ns")}
    out: list[str] = []
    ns_decls = "".join(f" xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in namespaces.items())
    out.append(
        f'<xsl:stylesheet version="2.0" xmlns:xsl="{XSL}" xmlns:svrl="{SVRL}"{ns_decls}'
        f' exclude-result-prefixes="#all">'
    )
    out.append('<xsl:output method="xml" indent="no"/>')

    def variable(let: ET.Element) -> str:
        return f"<xsl:variable name={quoteattr(let.get('name', ''))} select={quoteattr(let.get('value', ''))}/>"

    for let in root.findall(f"{{{SCH}}}let"):
        out.append(variable(let))
    patterns = root.findall(f"{{{SCH}}}pattern")
    for pattern in patterns:
        for let in pattern.findall(f"{{{SCH}}}let"):
            out.append(variable(let))
    for function in root.findall(f"{{{XSL}}}function"):
        out.append(_serialise_xsl(function))

    out.append('<xsl:template match="/">')
    out.append('<svrl:schematron-output>')
    for index, _pattern in enumerate(patterns):
        out.append(f'<xsl:apply-templates select="/" mode="p{index}"/>')
    out.append("</svrl:schematron-output></xsl:template>")

    for index, pattern in enumerate(patterns):
        mode = f"p{index}"
        rules = pattern.findall(f"{{{SCH}}}rule")
        for position, rule in enumerate(rules):
            priority = len(rules) - position + 1
            out.append(f"<xsl:template match={quoteattr(rule.get('context', ''))} mode={quoteattr(mode)}"
                       f" priority=\"{priority}\">")
            for let in rule.findall(f"{{{SCH}}}let"):
                out.append(variable(let))
            for test in rule:
                if test.tag not in (f"{{{SCH}}}assert", f"{{{SCH}}}report"):
                    continue
                condition = test.get("test", "")
                if test.tag == f"{{{SCH}}}report":
                    condition = f"not({condition})"
                text = escape(" ".join("".join(test.itertext()).split()))
                out.append(
                    f"<xsl:if test={quoteattr(f'not({condition})')}>"
                    f"<svrl:failed-assert id={quoteattr(test.get('id', ''))} flag={quoteattr(test.get('flag', 'fatal'))}"
                    f" location=\"{{path()}}\"><svrl:text>{text}</svrl:text></svrl:failed-assert></xsl:if>"
                )
            out.append('<xsl:apply-templates select="@*|node()" mode="' + mode + '"/></xsl:template>')
        # Unmatched nodes: keep walking; text and attributes produce nothing.
        out.append(f'<xsl:template match="*|/" mode="{mode}" priority="-10">'
                   f'<xsl:apply-templates select="@*|node()" mode="{mode}"/></xsl:template>')
        out.append(f'<xsl:template match="@*|text()|comment()|processing-instruction()" mode="{mode}"'
                   ' priority="-10"/>')
    out.append("</xsl:stylesheet>")
    return "\n".join(out)


def _serialise_xsl(element: ET.Element) -> str:
    """Serialise an embedded xsl:* element with the xsl prefix (ElementTree would invent ns0)."""
    tag = element.tag.split("}")[1]
    prefix = "xsl:" if element.tag.startswith(f"{{{XSL}}}") else ""
    attrs = "".join(f" {name}={quoteattr(value)}" for name, value in element.attrib.items())
    inner = escape(element.text or "") + "".join(
        _serialise_xsl(child) + escape(child.tail or "") for child in element
    )
    return f"<{prefix}{tag}{attrs}>{inner}</{prefix}{tag}>"


# --- running -----------------------------------------------------------------------------------


class Validator:
    """Compiles the rules once and validates many documents. Not thread-safe: one per process (see get_validator)."""

    def __init__(self, rules_dir: Path | None = None) -> None:
        from saxonche import PySaxonProcessor  # imported lazily: 100 MB native library, render function only

        self.rules_dir = rules_dir or default_rules_dir()
        self._processor = PySaxonProcessor(license=False)
        xslt = self._processor.new_xslt30_processor()
        self._cen = xslt.compile_stylesheet(stylesheet_file=str(self.rules_dir / CEN_XSLT))
        peppol_xslt = compile_schematron((self.rules_dir / PEPPOL_SCH).read_text(encoding="utf-8"))
        self._peppol = xslt.compile_stylesheet(stylesheet_text=peppol_xslt)
        self._lock = threading.Lock()

    def validate(self, document: bytes) -> ValidationResult:
        result = ValidationResult()
        try:
            ET.fromstring(document)
        except ET.ParseError as exc:
            result.fatal.append(RuleFailure("XML", "fatal", f"not well-formed XML: {exc}", "/", "xml"))
            return result
        with self._lock:
            node = self._processor.parse_xml(xml_text=document.decode("utf-8"))
            reports = [
                ("EN16931", self._cen.transform_to_string(xdm_node=node)),
                ("PEPPOL", self._peppol.transform_to_string(xdm_node=node)),
            ]
        for source, svrl in reports:
            for failed in ET.fromstring(svrl.encode("utf-8")).iter(f"{{{SVRL}}}failed-assert"):
                text = " ".join((failed.findtext(f"{{{SVRL}}}text") or "").split())
                failure = RuleFailure(
                    rule_id=failed.get("id", ""),
                    flag=failed.get("flag", "fatal"),
                    message=text,
                    location=failed.get("location", ""),
                    source=source,
                )
                (result.warnings if failure.flag == "warning" else result.fatal).append(failure)
        return result


@lru_cache(maxsize=4)
def get_validator(rules_dir: Path | None = None) -> Validator:
    """The process-wide validator (compiled once per Lambda container)."""
    return Validator(rules_dir)


def validate_ubl(document: bytes, rules_dir: Path | None = None) -> ValidationResult:
    return get_validator(rules_dir).validate(document)
