"""Bar charts of benchmark medians, with gnuplot (where it is installed): one PNG per table.

  bar_chart("out.png", "title", [("label", median, low, high), ...])   # False without gnuplot
"""

import os
import shutil
import subprocess


def bar_chart(png, title, bars, ylabel="MB/s (median, min-max)"):
    if not shutil.which("gnuplot") or not bars:
        return False
    data = png + ".dat"
    with open(data, "w") as f:
        for label, median, low, high in bars:
            f.write(f"\"{label.replace(chr(34), chr(39))}\" {median:.1f} {low:.1f} {high:.1f}\n")
    script = f"""set terminal png size {max(1000, 40 * len(bars))},700 font ",10"
set output "{png}"
set style fill solid 0.7
set boxwidth 0.7
set ylabel "{ylabel}"
set title "{title.replace(chr(34), chr(39))}"
set xtics rotate by -35
set grid ytics
set yrange [0:*]
set rmargin 12
set bmargin 12
plot "{data}" using 0:2:xtic(1) with boxes notitle, "" using 0:2:3:4 with yerrorbars notitle lc rgb "black"
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(data)
    return True
