"""Where articles come from: E-utilities, PubMed XML, PubTator files, bulk baseline/update files, watches."""
