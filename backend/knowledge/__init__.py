"""Knowledge base: documents (FAQ files, Markdown, HTML, PDF, DOCX, text, URLs), chunks, indexes."""
