"""The tabs' contents for a real analysis: feature-map grid, Table 1 and the block drawing, residual plots."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

WAIT = 30000


def analysed(qtbot, window, images):
    window.open_paths([images["shoe"]])
    qtbot.waitUntil(lambda: window.explorer.analysis is not None and window.explorer.summary is not None,
                    timeout=WAIT)
    return window.explorer.analysis


def test_feature_maps_sort_by_mean_and_enlarge_a_channel(qtbot, window, images):
    result = analysed(qtbot, window, images)
    window.show_tab("features")
    view = window.features
    assert [view.stage.itemData(i) for i in range(view.stage.count())] == ["stem", "layer1", "layer2",
                                                                            "layer3"]
    view.set_stage("layer3")
    view.sort.setCurrentIndex(1)
    maps = result.feature_maps["layer3"]
    means = maps.reshape(maps.shape[0], -1).mean(axis=1)
    strongest = int(np.argmax(means))
    assert view._channel_at(0, 0) == strongest  # the first tile is the most active channel
    view.select_channel(strongest)
    assert "rank 1 of 64" in view.detail_text.text()
    assert f"Channel {strongest} of conv4_x" in view.detail_caption.text()
    lo, hi = view.colorbar.levels()
    assert lo == maps[strongest].min() and abs(hi - maps[strongest].max()) < 1e-5
    # each tile carries its channel number: the first tile, sorted by mean, is numbered `strongest`
    assert int(view.tile_numbers._order[0]) == strongest
    assert view.tile_numbers.shown(painter_scale=10.0)  # 7 px tiles drawn 70 px wide: numbered
    assert not view.tile_numbers.shown(painter_scale=2.0)  # 14 px on screen: too small for a number


def test_architecture_shows_table1_and_every_block(qtbot, window, images):
    analysed(qtbot, window, images)
    view, summary, info = window.architecture, window.explorer.summary, window.explorer.info
    rows = view.table.rowCount()
    assert rows == len(summary.stages) + 1
    assert view.table.item(rows - 1, 5).text() == f"{summary.params:,}"
    assert view.table.item(1, 1).text() == "conv2_x"
    assert set(view.scene.block_items) == {b.name for b in info.blocks}
    shortcuts = {b.name: b.shortcut for b in info.blocks}
    assert shortcuts["layer2.0"] == "zero-pad" and shortcuts["layer1.0"] == "identity"


def test_residual_plots_hold_one_bar_per_block_and_one_point_per_layer(qtbot, window, images):
    result = analysed(qtbot, window, images)
    window.show_tab("residuals")
    info = window.explorer.info
    bars = [i for i in window.residuals.ratio_plot.items if isinstance(i, pg.BarGraphItem)]
    heights = bars[0].opts["height"]
    assert len(heights) == len(info.blocks) == 9
    np.testing.assert_allclose(heights, [result.residual_ratio[b.name] for b in info.blocks], rtol=1e-6)
    curves = window.residuals.std_plot.listDataItems()
    _, ys = curves[0].getData()
    assert len(ys) == len(info.layers_3x3) == 18
    assert window.residuals.ratio_plot.toolTip() and window.residuals.std_plot.toolTip()
    # a lesion click redraws in place: the same items, refilled (no duplicate left on the plot)
    window.residuals.lesion.set_block_off("layer2.1")
    qtbot.waitUntil(lambda: window.explorer.analysis.lesioned == ("layer2.1",), timeout=30000)
    again = [i for i in window.residuals.ratio_plot.items if isinstance(i, pg.BarGraphItem)]
    assert again == bars and window.residuals.std_plot.listDataItems() == curves
    assert again[0].opts["height"][list(result.residual_ratio).index("layer2.1")] == 0.0


def test_help_states_the_papers_claim_and_draws_both_blocks(qtbot):
    """Help says what the paper says (no higher *training error*), and draws Fig. 2 and the bottleneck."""
    from resnet_explorer.gui.views.help import HelpView

    view = HelpView()
    qtbot.addWidget(view)
    text = view.text.toPlainText()
    assert "training error should be no higher" in text
    assert "never hurt" not in text
    assert view.figures.count() == 2
    assert view.figure.layers == ("weight layer", "weight layer")
    assert view.bottleneck.layers == ("1x1, 64", "3x3, 64", "1x1, 256")
    # the three-layer figure is laid out taller, so its sum node is not drawn over its last layer
    assert view.bottleneck.sizeHint().height() > view.figure.sizeHint().height()


def test_lesion_note_lists_the_blocks_and_shortens_a_long_list():
    from resnet_explorer.gui.views.predict import lesioned_list

    assert lesioned_list(("layer1.0", "layer2.1")) == "layer1.0, layer2.1"
    names = tuple(f"layer1.{i}" for i in range(7))
    assert lesioned_list(names) == "layer1.0, layer1.1, layer1.2, layer1.3 +3 more"


def test_the_strip_keeps_its_rows_and_redraws_only_what_changed(qtbot):
    from resnet_explorer.gui.widgets.thumbnails import ThumbnailStrip

    strip = ThumbnailStrip()
    qtbot.addWidget(strip)
    a, b, c = (np.full((8, 8, 3), v, np.uint8) for v in (0, 128, 255))
    strip.set_items([("a.png", a), ("b.png", b)], 1)
    first = [strip.item(r) for r in range(2)]
    strip.set_items([("a.png", a), ("b.png", b), ("c.png", c)], 2)  # a drop appends one image
    assert [strip.item(r) for r in range(2)] == first and strip.item(2).text() == "c.png"
    assert strip.currentRow() == 2 and strip.count() == 3
    # A file opened again moves to the end: the rows from the first change on are made again.
    strip.set_items([("b.png", b), ("c.png", c), ("a.png", a)], 2)
    assert [strip.item(r).text() for r in range(3)] == ["b.png", "c.png", "a.png"]
    assert strip.item(0) is not first[0] and not strip.item(2).icon().isNull()
    strip.set_items([("b.png", b)], 0)  # fewer images (the newest 64 are kept)
    assert strip.count() == 1 and strip.item(0).text() == "b.png"
