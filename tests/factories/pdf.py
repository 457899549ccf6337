"""What a generated PDF declares about itself, read with pikepdf: tagged (a structure tree), its title,
its language, its PDF/UA identification."""

import io

import pikepdf


def pdf_accessibility(data: bytes) -> dict:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        root = pdf.Root
        mark = root.get("/MarkInfo")
        with pdf.open_metadata() as meta:
            ua = meta.get("pdfuaid:part")
            xmp_title = meta.get("dc:title")
        return {
            "tagged": bool(mark is not None and mark.get("/Marked")) and "/StructTreeRoot" in root,
            "title": str(pdf.docinfo.get("/Title", "")),
            "xmp_title": xmp_title,
            "lang": str(root.get("/Lang", "")),
            "display_title": bool(root.get("/ViewerPreferences", {}).get("/DisplayDocTitle")),
            "pdfua": ua,
        }
