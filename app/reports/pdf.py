"""The one way the app writes a PDF: WeasyPrint, tagged as PDF/UA-1 (a structure tree a screen reader
follows, the document's title shown instead of its file name, the language of the page's
``<html lang>``). The HTML gives the title (``<title>``) and the language; every PDF template has both."""

PDF_VARIANT = "pdf/ua-1"


def write_pdf(html: str, url_fetcher=None) -> bytes:
    from weasyprint import HTML

    kwargs = {"url_fetcher": url_fetcher} if url_fetcher else {}
    return HTML(string=html, **kwargs).write_pdf(pdf_variant=PDF_VARIANT)
