"""Small reusable widgets: banner, image panel, bar chart, thumbnail strip."""
