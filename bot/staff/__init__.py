"""The staff pages under /staff/ of the web server: who may see them (auth), the pages (pages), and what
they show (report, gaps, queue)."""
