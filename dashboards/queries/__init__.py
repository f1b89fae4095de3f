"""One query module per dashboard page (page_list.py names each page's module); data.py holds the
connection and the helpers they share."""
