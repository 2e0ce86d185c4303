"""What the scripted model answers to each request of the example notebooks, in order.

Each step is (a text the request must contain, the answer). The answers are what a good model
writes; two of them fail on purpose in round 1 so that the notebooks show (and the tests
check) the correction from a real error. The code runs for real on scikit-learn's data.
"""

from __future__ import annotations


def py(code: str, prose: str) -> str:
    return f"{prose}\n\n```python\n{code.strip()}\n```\n"


IRIS = [
    (
        "Load scikit-learn's bundled iris dataset into a DataFrame `iris`",
        py(
            """
from sklearn.datasets import load_iris

bunch = load_iris(as_frame=True)
iris = bunch.frame.copy()
iris["species"] = bunch.target_names[iris.pop("target")]
print(iris.shape)
""",
            "I load the bundled data as a DataFrame and turn the numeric target into species "
            "names.",
        ),
    ),
    (
        # By now the model is told about `iris`: its shape, dtypes and first rows.
        "- iris (pandas DataFrame): 150 rows x 5 columns",
        py(
            """
iris.columns = [column.replace(" (cm)", "").replace(" ", "_") for column in iris.columns]
before = len(iris)
iris = iris.drop_duplicates().reset_index(drop=True)
print(f"Dropped {before - len(iris)} duplicate row(s); {len(iris)} remain.")
""",
            "Rename to snake_case, then drop exact duplicates.",
        ),
    ),
    (
        "Summarise each measurement by species",
        py(
            """
summary = iris.groupby("species").agg(["mean", "std"]).round(2)
summary
""",
            "Group by species and aggregate.",
        ),
    ),
    (
        "Plot petal length against petal width",
        py(
            """
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 4))
for species, group in iris.groupby("species"):
    ax.scatter(group["petal width (cm)"], group["petal length (cm)"], label=species, alpha=0.7)
ax.set_xlabel("petal width (cm)")
ax.set_ylabel("petal length (cm)")
ax.legend(title="species")
plt.show()
""",
            "A scatter plot, one colour per species.",
        ),
    ),
    (
        # Round 2: the real error went back to the model.
        "KeyError: 'petal width (cm)'",
        py(
            """
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 4))
for species, group in iris.groupby("species"):
    ax.scatter(group["petal_width"], group["petal_length"], label=species, alpha=0.7)
ax.set_xlabel("petal width (cm)")
ax.set_ylabel("petal length (cm)")
ax.legend(title="species")
plt.show()
""",
            "The columns were renamed when cleaning: `petal_width` and `petal_length`.",
        ),
    ),
    (
        "failed with KeyError: 'sepal_lenght'",
        py(
            """
ratio = iris["petal_length"] / iris["sepal_length"]
ratio.describe()
""",
            "A typo in the column name: it is `sepal_length`.",
        ),
    ),
]

WINE = [
    (
        "Load scikit-learn's bundled wine dataset into a DataFrame `wine`",
        py(
            """
from sklearn.datasets import load_wine

bunch = load_wine(as_frame=True)
wine = bunch.frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
wine["cultivar"] = bunch.target_names[wine.pop("target")]
wine["cultivar"].value_counts()
""",
            "Load it as a DataFrame, name the classes, and count them.",
        ),
    ),
    (
        "- wine (pandas DataFrame): 178 rows x 14 columns",
        py(
            """
print("missing values:", int(wine.isna().sum().sum()))
print("duplicate rows:", int(wine.duplicated().sum()))
z = (wine["proline"] - wine["proline"].mean()) / wine["proline"].std()
outliers = z.abs() > 3
wine = wine[~outliers].reset_index(drop=True)
print(f"dropped {int(outliers.sum())} wine(s); {len(wine)} remain")
""",
            "Count what is missing or repeated, then drop proline outliers by their z-score.",
        ),
    ),
    (
        "into a series `separation`",
        py(
            """
from sklearn.feature_selection import f_classif

features = wine.drop(columns="cultivar")
f_values, _ = f_classif(features, wine["cultivar"])
separation = pd.Series(f_values, index=features.columns).sort_values(ascending=False)
separation.head(5).round(1)
""",
            "scikit-learn's `f_classif` computes the ANOVA F statistic of each measurement.",
        ),
    ),
    (
        "NameError: name 'pd' is not defined",
        py(
            """
import pandas as pd
from sklearn.feature_selection import f_classif

features = wine.drop(columns="cultivar")
f_values, _ = f_classif(features, wine["cultivar"])
separation = pd.Series(f_values, index=features.columns).sort_values(ascending=False)
separation.head(5).round(1)
""",
            "pandas was not imported in this notebook yet.",
        ),
    ),
    (
        "Plot histograms of the two measurements at the top of `separation`",
        py(
            """
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, column in zip(axes, separation.index[:2]):
    for cultivar, group in wine.groupby("cultivar"):
        ax.hist(group[column], bins=15, alpha=0.6, label=cultivar)
    ax.set_xlabel(column)
    ax.set_ylabel("wines")
axes[0].legend(title="cultivar")
fig.tight_layout()
plt.show()
""",
            "Two histograms, one colour per cultivar.",
        ),
    ),
    (
        "Fit a logistic regression that predicts the cultivar",
        py(
            """
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
scores = cross_val_score(model, wine.drop(columns="cultivar"), wine["cultivar"], cv=5)
print(f"accuracy {scores.mean():.3f} +/- {scores.std():.3f}")
""",
            "Scale the measurements, then a logistic regression, scored by 5-fold "
            "cross-validation.",
        ),
    ),
]

REPLIES = {"iris_exploration.ipynb": IRIS, "wine_exploration.ipynb": WINE}
